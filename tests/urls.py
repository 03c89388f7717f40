from django.urls import path

from tests.multinode.views import emit

urlpatterns = [path("emit/", emit)]
