"""A chat demo for django-channels-socketio: ``scripts/demo`` sets it up and runs it."""
