"""OpenTelemetry traces: an API request → the run it starts → each node's activity.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: then no span is made and the tracing SDK is
not even imported. On, each process has its own `TracerProvider` (never the global one) that
it hands to the API's request spans and to Temporal's `TracingInterceptor`, which carries
the trace from the API's client through the run's workflow to its activities.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from core.config import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from temporalio.contrib.opentelemetry import TracingInterceptor

Process = Literal["api", "worker"]
TRACER_NAME = "flowpilot"


def tracer_provider(
    settings: Settings, process: Process, exporter: "SpanExporter | None" = None
) -> "TracerProvider | None":
    """The process's tracer provider, batching spans to `exporter` (by default the OTLP/HTTP
    collector at OTEL_EXPORTER_OTLP_ENDPOINT); None when there is neither.

    The caller shuts it down when the process ends (which flushes what is left): Flowpilot's
    processes end with `os._exit`, which runs no exit handlers.
    """
    if exporter is None and not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Like the SDK's own reading of the variable: a base URL, traces under /v1/traces.
        base = (settings.otel_exporter_otlp_endpoint or "").rstrip("/")
        exporter = OTLPSpanExporter(endpoint=f"{base}/v1/traces")
    name = settings.otel_service_name or f"flowpilot-{process}"
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: name}), shutdown_on_exit=False
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def temporal_interceptors(provider: "TracerProvider | None") -> Sequence["TracingInterceptor"]:
    """What a Temporal client (and the workers built on it) is given to trace: nothing
    without a provider."""
    if provider is None:
        return ()
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return (TracingInterceptor(provider.get_tracer(TRACER_NAME)),)
