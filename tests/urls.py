from django.urls import include, path

from tests.multinode.views import emit

urlpatterns = [path("emit/", emit), path("", include("django_socketio.metrics"))]
