"""The bench app on django-sio 0.2.0 (PyPI ``django-sio``, import name ``sio``).

It runs in its own virtualenv (bench/.work/venv-djsio, made by bench/run-all).
"""
