from django.apps import AppConfig


class DjangoSocketIOConfig(AppConfig):
    name = "django_socketio"
    verbose_name = "Socket.IO"
    default_auto_field = "django.db.models.AutoField"  # our one unmanaged model

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .registry import autodiscover

        autodiscover()
