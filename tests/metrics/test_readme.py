"""The README's metrics and logging snippets work as printed."""

from __future__ import annotations

import logging
import logging.config
import re
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def python_block(containing: str) -> str:
    for block in re.findall(r"```python\n(.*?)```", README, re.S):
        if containing in block:
            return block
    raise AssertionError(f"no python block in the README contains {containing!r}")


def test_logging_example_configures() -> None:
    namespace: dict[str, object] = {}
    exec(python_block("LOGGING = {"), namespace)
    saved = {name: logging.getLogger(name).level for name in ("django_socketio", "channels_redis")}
    try:
        logging.config.dictConfig(namespace["LOGGING"])
        assert logging.getLogger("django_socketio").level == logging.WARNING
        assert logging.getLogger("django_socketio.adapter").level == logging.INFO
        assert logging.getLogger("django_socketio.engineio").getEffectiveLevel() == logging.WARNING
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
            logging.getLogger(name).handlers.clear()
        logging.getLogger("django_socketio.adapter").handlers.clear()
        logging.getLogger("django_socketio.adapter").propagate = True
        logging.getLogger("django_socketio.adapter").setLevel(logging.NOTSET)


def test_metrics_urls_resolve() -> None:
    from django.urls import resolve

    namespace: dict[str, object] = {}
    exec(python_block('include("django_socketio.metrics")'), namespace)
    patterns = namespace["urlpatterns"]
    assert patterns
    # tests/urls.py includes it the same way
    assert resolve("/metrics").url_name == "socketio-metrics"
