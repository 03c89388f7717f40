"""A plain sync Django view that emits, as an application's view would."""

import json

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from django_socketio import io


@csrf_exempt
def emit(request: HttpRequest) -> JsonResponse:
    body = json.loads(request.body or b"{}")
    operator = io.of(body.get("namespace", "/rooms")).except_([])
    if body.get("to"):
        operator = operator.to(body["to"])
    operator.emit_sync(body.get("event", "from-view"), *body.get("args", []))
    return JsonResponse({"ok": True})
