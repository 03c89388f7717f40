"""No tables: one unmanaged model that carries our permission and the admin section.

[edge] ``django_socketio.operate`` ("Can see and operate Socket.IO") lets a staff user
open the "Socket.IO" section of the Django admin and log in to the Admin UI with their
Django session. Superusers have it.
"""

from django.db import models


class Deployment(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("operate", "Can see and operate Socket.IO")]
        verbose_name = verbose_name_plural = "Live deployment"
