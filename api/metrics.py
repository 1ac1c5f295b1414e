"""Prometheus metrics of the API: request latency and runs started."""

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry()
REQUEST_SECONDS = Histogram(
    "flowpilot_http_request_seconds",
    "API request latency by route template, method and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
RUNS_STARTED = Counter(
    "flowpilot_runs_started_total", "Runs started, by trigger.", ["trigger"], registry=REGISTRY
)


async def measure(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Middleware: time every request under its route template (not its concrete path)."""
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    template = getattr(route, "path", "unmatched")
    REQUEST_SECONDS.labels(request.method, template, str(response.status_code)).observe(
        time.perf_counter() - started
    )
    return response


def metrics_response() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
