"""Prometheus metrics: the counters of every server process, in the text format.

[edge] Needs ``prometheus_client`` (``pip install django-channels-socketio[metrics]``).
Add the URL to the project's ``urls.py``::

    path("", include("django_socketio.metrics"))       # serves /metrics

The counters are plain integers that each process keeps (`django_socketio.stats`);
nothing here runs on the message path. A scrape reaches one process, which asks
the other processes for theirs over the channel layer (as ``fetch_sockets`` does)
and labels every sample with its ``server_id`` (``host#pid``), so one scrape of a
load-balanced port sees the whole deployment. ``/metrics?local=1`` answers for
the answering process only. The view must be served by the ASGI processes that
run Socket.IO (a WSGI process has no sockets to count).

`SocketIOCollector` can also be registered in a registry of your own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

PREFIX = "socketio_"

# (stats key = metric name, help): counters with one value per process
_COUNTERS = (
    ("connects", "Engine.IO connections opened."),
    ("upgrades", "Connections upgraded from polling to websocket."),
    ("socket_connects", "Namespace sockets connected."),
    ("broadcasts", "Broadcasts sent (once each, whatever the recipients)."),
    (
        "messages_dropped",
        "Messages not sent to a client that had not read enough (volatile, or policy drop).",
    ),
    ("ack_timeouts", "Acknowledgements the server waited for in vain."),
    ("handler_errors", "Connect, event, disconnect and ack handlers that raised."),
    ("recoveries", "Sockets restored by connection state recovery."),
    ("recoveries_failed", "Recoveries asked for and refused (a fresh session instead)."),
    ("recovery_evictions", "Live sockets closed because their session reconnected."),
)
# (stats key = metric name, help): counters by transport
_TRAFFIC = (
    ("packets_in", "Engine.IO packets received."),
    ("packets_out", "Engine.IO packets sent."),
    ("bytes_in", "Bytes received (polling bodies, websocket messages)."),
    ("bytes_out", "Bytes sent (polling bodies, websocket messages)."),
)
_LAYER = (
    ("sent", "Messages this process sent through the channel layer."),
    ("received", "Messages this process received from the channel layer."),
    ("dropped", "Messages the channel layer reported dropped (channel over capacity)."),
    ("errors", "Channel layer operations that failed."),
)


class SocketIOCollector:
    """A prometheus_client collector over `io.stats()` dicts (one per process).

    With no `stats`, it reads this process's counters at each collection.
    """

    def __init__(self, stats: Iterable[dict[str, Any]] | None = None, server: Any = None) -> None:
        self._stats = list(stats) if stats is not None else None
        self._server = server

    def _all(self) -> list[dict[str, Any]]:
        if self._stats is not None:
            return self._stats
        server = self._server
        if server is None:
            from .server import io as server
        return [server.stats()]

    def describe(self) -> list[Metric]:
        return []  # collected on demand: no samples at registration time

    def collect(self) -> Iterator[Metric]:
        every = self._all()
        sid = ["server_id"]

        gauge = GaugeMetricFamily(
            PREFIX + "connections", "Engine.IO connections open.", labels=[*sid, "transport"]
        )
        sockets = GaugeMetricFamily(
            PREFIX + "sockets", "Namespace sockets connected.", labels=[*sid, "namespace"]
        )
        uptime = GaugeMetricFamily(
            PREFIX + "uptime_seconds", "Seconds since the process started.", labels=sid
        )
        for s in every:
            for transport, count in s["connections"].items():
                gauge.add_metric([s["server_id"], transport], count)
            for name, count in s["sockets"].items():
                sockets.add_metric([s["server_id"], name], count)
            uptime.add_metric([s["server_id"]], s["uptime"])
        yield from (gauge, sockets, uptime)

        for key, doc in _COUNTERS:
            family = CounterMetricFamily(PREFIX + key, doc, labels=sid)
            for s in every:
                family.add_metric([s["server_id"]], s[key])
            yield family
        for key, doc in _TRAFFIC:
            family = CounterMetricFamily(PREFIX + key, doc, labels=[*sid, "transport"])
            for s in every:
                for transport, count in s[key].items():
                    family.add_metric([s["server_id"], transport], count)
            yield family
        for key, doc in (
            ("disconnects", "Engine.IO connections closed, by reason."),
            ("socket_disconnects", "Namespace sockets gone, by reason."),
        ):
            family = CounterMetricFamily(PREFIX + key, doc, labels=[*sid, "reason"])
            for s in every:
                for reason, count in s[key].items():
                    family.add_metric([s["server_id"], reason], count)
            yield family
        family = CounterMetricFamily(
            PREFIX + "limit_refusals",
            "What the inbound limits refused or closed, by limit (README, Limits).",
            labels=[*sid, "limit"],
        )
        for s in every:
            for limit, count in s.get("limits", {}).items():
                family.add_metric([s["server_id"], limit], count)
        yield family
        for key, doc in _LAYER:
            family = CounterMetricFamily(PREFIX + "layer_messages_" + key, doc, labels=sid)
            for s in every:
                family.add_metric([s["server_id"]], s["layer"][key])
            yield family

        latency = HistogramMetricFamily(
            PREFIX + "handler_latency_seconds", "Event handler run time.", labels=sid
        )
        for s in every:
            h = s["handler_latency"]
            buckets = [(_bound(b), n) for b, n in h["buckets"]]
            latency.add_metric([s["server_id"]], buckets, h["sum"])
        yield latency


def _bound(value: float | str) -> str:
    return "+Inf" if value == "+Inf" else repr(float(value))


async def metrics_view(request: HttpRequest) -> HttpResponse:
    """Every process's metrics (``?local=1``: this process's only)."""
    from .server import io

    if request.GET.get("local"):
        stats = [io.stats()]
    else:
        stats = await io.cluster_stats()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SocketIOCollector(stats))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [path("metrics", metrics_view, name="socketio-metrics")]
