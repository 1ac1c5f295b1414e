"""A server span per API request, the parent of whatever the request does on Temporal.

A dozen lines of our own rather than opentelemetry-instrumentation-asgi: that one records the
concrete path and query (a webhook's URL is its secret) and, by default, a span for each
message of an event stream. This names the span by route template and records nothing the
caller could have put a secret in.
"""

from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import log_context

_PROPAGATOR = TraceContextTextMapPropagator()


def route_template(scope: Scope) -> str | None:
    """The matched route's path template with the prefix it was included under
    (`/api/runs/{run_id}`); the route itself knows only its own part (`/runs/{run_id}`)."""
    template = getattr(scope.get("route"), "path_format", None)
    if template is None:
        return None
    rendered = template
    for name, value in scope.get("path_params", {}).items():
        rendered = rendered.replace(f"{{{name}}}", str(value))
    path: str = scope["path"]
    return path.removesuffix(rendered) + template if path.endswith(rendered) else template


class RequestSpans:
    """ASGI middleware: a SERVER span for each HTTP request, continuing the caller's trace
    when it sends a W3C `traceparent`."""

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        carrier = {
            key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]
        }
        with self.tracer.start_as_current_span(
            method,
            context=_PROPAGATOR.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method},
            set_status_on_exception=True,
        ) as span:

            async def send_noting_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status: int = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                await send(message)

            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                route = route_template(scope)
                if route is not None:
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                for name, value in log_context().items():
                    span.set_attribute(f"flowpilot.{name}", value)
