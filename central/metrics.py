"""`GET /metrics`: the service and its fleet, for Prometheus (alert rules in ops/).

Two kinds of figures. What a request cost (counts by route and status, latencies) is counted
by the worker that served it: with several workers (`serve --workers N`) the counts go to
prometheus_client's multiprocess files ($PROMETHEUS_MULTIPROC_DIR, set by `serve`), so any
worker answers a scrape for all of them. What the fleet is (kiosks by state, queues, faults,
clocks, open conflicts) is read from the database at scrape time, the same `fleet()` the
dashboard shows, so every worker gives the same answer and nothing is kept twice.

Labels carry kiosk ids and branches, never a patron or an item: routes are the templates
(`/v1/items/{item_id}`), not the paths.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.dashboard import fleet
from central.db import Database

_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
STATES = ("online", "offline", "silent", "unknown")


class FleetCollector(Collector):
    """The fleet as gauges, read at each scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        rows = fleet(self.db)["kiosks"]
        by_state = GaugeMetricFamily("central_kiosks", "Kiosks by state", labels=["state"])
        for state in STATES:
            by_state.add_metric([state], sum(1 for r in rows if r["state"] == state))
        yield by_state
        yield from _per_kiosk(rows)
        yield GaugeMetricFamily("central_queue_total", "Transactions waiting on all kiosks",
                                value=sum(r["queue_depth"] for r in rows))
        yield GaugeMetricFamily("central_conflicts_open", "Conflicts waiting for staff",
                                value=sum(r["conflicts"] for r in rows))
        pool = GaugeMetricFamily("central_db_pool", "Database connections of this worker",
                                 labels=["stat"])
        for stat, value in sorted(self.db.pool_stats().items()):
            pool.add_metric([stat], value)
        yield pool


def _per_kiosk(rows: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    labels = ["kiosk", "branch"]
    silent = GaugeMetricFamily("central_kiosk_seconds_since_heartbeat",
                               "Seconds since the kiosk's last heartbeat", labels=labels)
    queue = GaugeMetricFamily("central_kiosk_queue_depth",
                              "Transactions the kiosk holds for the central side", labels=labels)
    oldest = GaugeMetricFamily("central_kiosk_oldest_pending_seconds",
                               "Age of the kiosk's oldest waiting transaction", labels=labels)
    skew = GaugeMetricFamily("central_kiosk_clock_skew_seconds",
                             "The kiosk's clock minus the server's, at its last heartbeat",
                             labels=labels)
    fault = GaugeMetricFamily("central_kiosk_fault",
                              "1 for each fault the kiosk reports (a device, journal, clock)",
                              labels=[*labels, "fault"])
    for r in rows:
        key = [r["kiosk_id"], r["branch"]]
        if r["silent_for_s"] is not None:
            silent.add_metric(key, r["silent_for_s"])
        queue.add_metric(key, r["queue_depth"])
        if isinstance(r["oldest_pending_age_s"], int | float):
            oldest.add_metric(key, float(r["oldest_pending_age_s"]))
        if r["clock_skew_s"] is not None:
            skew.add_metric(key, float(r["clock_skew_s"]))
        for name in r["faults"]:
            fault.add_metric([*key, name], 1)
    yield from (silent, queue, oldest, skew, fault)


class _Counting:
    """Plain ASGI middleware (no per-request task, unlike @app.middleware): counts each answer
    by the route's template once the router has found it."""

    def __init__(self, app: ASGIApp, *, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = str(getattr(scope.get("route"), "path", "unmatched"))
            self.requests.labels(route, scope.get("method", ""), str(status[0])).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)


def mount_metrics(app: FastAPI, db: Database) -> None:
    """Count every request, and answer /metrics (no auth: bind it to what Prometheus reaches,
    or put it behind the reverse proxy's allow list)."""
    multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    own = CollectorRegistry(auto_describe=True)
    counting = None if multiprocess else own  # multiprocess values go to files, not a registry
    requests = Counter("central_http_requests", "Requests answered, by route and status",
                       ["route", "method", "status"], registry=counting)
    latency = Histogram("central_http_request_duration_seconds", "Time to answer, by route",
                        ["route"], buckets=_BUCKETS, registry=counting)
    fleet_collector = FleetCollector(db)
    own.register(fleet_collector)
    app.add_middleware(_Counting, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        registry = own
        if multiprocess:
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            registry.register(fleet_collector)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
