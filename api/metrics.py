"""Prometheus metrics of the API: request latency, runs started, runs by status."""

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.models import Run

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
RUNS_BY_STATUS = Gauge(
    "flowpilot_runs",
    "Runs recorded in the database, by status (the same for every API replica).",
    ["status"],
    registry=REGISTRY,
)
RUN_STATUSES = ("pending", "running", "waiting", "succeeded", "failed", "cancelled")


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


async def metrics_response(session: AsyncSession) -> Response:
    """The registry, with run counts read from the database at scrape time."""
    query = select(Run.status, func.count()).group_by(col(Run.status))
    counts = dict((await session.exec(query)).all())
    for status in RUN_STATUSES:
        RUNS_BY_STATUS.labels(status).set(counts.get(status, 0))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
