"""Prometheus metrics of the worker: node durations and finished runs.

Each worker process serves its own registry (`WORKER_METRICS_PORT`); Prometheus scrapes
every replica and sums them, so nothing here needs to be shared between workers.
"""

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from core.config import Settings
from workflows.contract import RunProgress

log = logging.getLogger("flowpilot.worker")

REGISTRY = CollectorRegistry()
NODE_SECONDS = Histogram(
    "flowpilot_node_duration_seconds",
    "Time from a node's start to its end (all attempts and retry waits), by type and status.",
    ["type", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
    registry=REGISTRY,
)
RUNS_FINISHED = Counter(
    "flowpilot_runs_finished_total", "Runs that ended, by status.", ["status"], registry=REGISTRY
)


def observe(progress: RunProgress) -> None:
    """Count what a recorded batch of progress finished."""
    for node in progress.nodes:
        if node.started_at and node.finished_at:
            seconds = (
                datetime.fromisoformat(node.finished_at) - datetime.fromisoformat(node.started_at)
            ).total_seconds()
            NODE_SECONDS.labels(node.type, node.status).observe(max(seconds, 0.0))
    if progress.finished:
        RUNS_FINISHED.labels(progress.status).inc()


@contextlib.asynccontextmanager
async def serve_metrics(settings: Settings) -> AsyncIterator[None]:
    """Serve `/metrics` on the worker's metrics port while the worker runs (0: not at all).

    A port already taken is logged, not fatal: the worker's job is running workflows.
    """
    if not settings.worker_metrics_port:
        yield
        return
    address = (settings.worker_metrics_host, settings.worker_metrics_port)
    try:
        server, thread = start_http_server(address[1], address[0], registry=REGISTRY)
    except OSError as error:
        log.warning("worker metrics not served on %s:%s: %s", *address, error)
        yield
        return
    log.info("worker metrics on http://%s:%s/metrics", *address)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
