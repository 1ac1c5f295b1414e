"""The Temporal SDK runtime of a worker: the SDK's own metrics for Prometheus, its core's
log lines through Python's logging (so they come out in LOG_FORMAT like every other line)."""

import logging

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from core.config import Settings

log = logging.getLogger("flowpilot.worker")
# The SDK's default: its core's warnings, other crates' errors.
_CORE_LOGS = TelemetryFilter(core_level="WARN", other_level="ERROR")


def sdk_metrics_address(settings: Settings) -> str | None:
    """Where the SDK's `/metrics` is served (TEMPORAL_SDK_METRICS_PORT on
    WORKER_METRICS_HOST); None when it is off."""
    if not settings.temporal_sdk_metrics_port:
        return None
    host = settings.worker_metrics_host
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{settings.temporal_sdk_metrics_port}"


def temporal_runtime(settings: Settings) -> Runtime:
    """A runtime for the worker's client. A metrics port already taken is logged, not fatal
    (as for the worker's own metrics): the worker's job is running workflows."""
    logs = LoggingConfig(
        filter=_CORE_LOGS,
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    address = sdk_metrics_address(settings)
    if address is not None:
        metrics = PrometheusConfig(bind_address=address)
        try:
            runtime = Runtime(telemetry=TelemetryConfig(logging=logs, metrics=metrics))
        except ValueError as error:  # the exporter could not bind
            log.warning("Temporal SDK metrics not served on %s: %s", address, error)
        else:
            log.info("Temporal SDK metrics on http://%s/metrics", address)
            return runtime
    return Runtime(telemetry=TelemetryConfig(logging=logs))
