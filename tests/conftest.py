"""Shared test helpers."""

import os

import pytest


def require_or_skip(reason: str) -> None:
    """Skip the test because a tool is missing, or fail it under ``DJANGO_SOCKETIO_STRICT=1`` (CI).

    CI installs Node, Chromium and Redis, so there a missing one is a broken setup, not a
    reason to run fewer tests.
    """
    if os.environ.get("DJANGO_SOCKETIO_STRICT") == "1":
        pytest.fail(f"{reason} (DJANGO_SOCKETIO_STRICT=1)", pytrace=False)
    pytest.skip(reason)
