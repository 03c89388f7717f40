from django.conf import settings
from django.shortcuts import render


def index(request):
    """The chat page. ``?transport=polling`` makes the client use long-polling only."""
    context = {
        "client_installed": settings.SOCKET_IO_CLIENT_DIST.is_dir(),
        "room": request.GET.get("room", "lobby"),
    }
    return render(request, "chat/index.html", context)
