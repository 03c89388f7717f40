"""The test project's URLs: the Django admin, /metrics, and the Admin UI's page.

The Admin UI is the npm package's ``ui/dist`` (a static single-page app), served as
the README shows.
"""

from pathlib import Path

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

from tests.multinode.views import emit

ADMIN_UI_DIST = Path(__file__).resolve().parents[2] / "node_modules/@socket.io/admin-ui/ui/dist"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("django_socketio.metrics")),
    path("emit/", emit),
    path("socket-admin", RedirectView.as_view(url="/socket-admin/")),
    path("socket-admin/", serve, {"path": "index.html", "document_root": ADMIN_UI_DIST}),
    re_path(r"^socket-admin/(?P<path>.+)$", serve, {"document_root": ADMIN_UI_DIST}),
]
