"""Shared test helpers."""

import os

import pytest
from hypothesis import HealthCheck, settings

# No property test is timed: on a loaded CI machine one slow example (a descheduled
# process, a GC pause) past Hypothesis's 200 ms deadline, or generation it deems too
# slow, would fail a correct test. What the tests check is what the code does, not how fast.
settings.register_profile("untimed", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("untimed")


def require_or_skip(reason: str) -> None:
    """Skip the test because a tool is missing, or fail it under ``DJANGO_SOCKETIO_STRICT=1`` (CI).

    CI installs Node, Chromium and Redis, so there a missing one is a broken setup, not a
    reason to run fewer tests.
    """
    if os.environ.get("DJANGO_SOCKETIO_STRICT") == "1":
        pytest.fail(f"{reason} (DJANGO_SOCKETIO_STRICT=1)", pytrace=False)
    pytest.skip(reason)
