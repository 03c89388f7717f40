from django.apps import AppConfig


class SioAppConfig(AppConfig):
    name = "tests.sioapp"
    label = "sioapp"
