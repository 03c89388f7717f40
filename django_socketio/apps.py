from django.apps import AppConfig


class DjangoSocketIOConfig(AppConfig):
    name = "django_socketio"
    verbose_name = "Socket.IO"
    default_auto_field = "django.db.models.AutoField"
