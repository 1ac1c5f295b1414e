"""Log lines of both processes: JSON or text, each stamped with the ids of what it is about.

The API binds the request (and the user, workflow and run it touches), the worker binds the
run and node an activity runs for; every line logged meanwhile carries them, whichever
library logged it. Only these ids and the record's own text are written: never a record's
other attributes, which may hold anything a caller passed.
"""

import contextlib
import json
import logging
import logging.config
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, Literal

from opentelemetry import trace

from core.config import Settings

CONTEXT_FIELDS = ("request_id", "user_id", "workflow_id", "run_id", "node_id")
"""What a line may be about. `run_id` is the run's Temporal workflow id (`run-<run id>` for
runs started through the API), which the API and the worker both know."""

_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: ContextVar[Mapping[str, str]] = ContextVar("flowpilot_log_context", default=_EMPTY)

# A webhook's URL is its secret: access lines show the route, not the token.
_SECRET_PATHS = re.compile(r"(/api/hooks/)[^/?#\s\"]+")


def log_context() -> Mapping[str, str]:
    """The ids bound in the current context."""
    return _context.get()


def bind(**fields: str | None) -> Token[Mapping[str, str]]:
    """Add ids to the current context (a None is skipped); `unbind(token)` restores it."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"not a log context field: {sorted(unknown)}")
    given = {name: value for name, value in fields.items() if value is not None}
    return _context.set(MappingProxyType({**_context.get(), **given}))


def unbind(token: Token[Mapping[str, str]]) -> None:
    _context.reset(token)


@contextlib.contextmanager
def bound(**fields: str | None) -> Iterator[None]:
    """The ids bound for the body.

    When the body raises they stay bound: the task that ran it logs the failure next (uvicorn's
    "Exception in ASGI application", Temporal's "Completing activity as failed") and ends, and
    that line should say what failed.
    """
    token = bind(**fields)
    yield
    unbind(token)


class ContextFilter(logging.Filter):
    """Stamps each record with the bound ids (and the current trace) when it is emitted."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = dict(_context.get())
        temporal = getattr(record, "temporal_workflow", None)
        if "run_id" not in ids and isinstance(temporal, dict) and temporal.get("workflow_id"):
            ids["run_id"] = str(temporal["workflow_id"])  # the SDK's lines about a workflow
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            ids["trace_id"] = format(span.trace_id, "032x")
            ids["span_id"] = format(span.span_id, "016x")
        record.log_context = ids
        return True


class RedactSecretPaths(logging.Filter):
    """Replaces the secret part of request paths in access lines (uvicorn's `args`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SECRET_PATHS.sub(r"\1{token}", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, the bound ids,
    and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "log_context", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc_iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
    return moment.replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`time level logger message [id=value …]`, for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        ids: Mapping[str, str] = getattr(record, "log_context", {})
        if not ids:
            return line
        return f"{line} [{' '.join(f'{name}={value}' for name, value in ids.items())}]"


def log_format(settings: Settings) -> Literal["json", "text"]:
    """LOG_FORMAT, or json in production and text elsewhere."""
    if settings.log_format is not None:
        return settings.log_format
    return "json" if settings.environment == "production" else "text"


def logging_config(settings: Settings) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a Flowpilot process, also given to uvicorn as its
    `log_config` so that its error and access lines (and those of each of its worker
    processes) go through the same handler."""
    formatter = JsonFormatter if log_format(settings) == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": ContextFilter},
            "secret_paths": {"()": RedactSecretPaths},
        },
        "formatters": {"flowpilot": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "flowpilot",
                "filters": ["context"],
            }
        },
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            # uvicorn's own config gives these handlers of their own; here they propagate.
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": True, "filters": ["secret_paths"]},
            # httpx logs every request URL at INFO; connector URLs can carry secrets (Slack
            # webhooks).
            "httpx": {"level": "WARNING"},
            # botocore's DEBUG lines quote whole requests, session tokens included (s3.*).
            "botocore": {"level": "INFO"},
            "aiobotocore": {"level": "INFO"},
            "alembic.runtime.plugins": {"level": "WARNING"},  # a line per plugin, each start
        },
    }


def configure_logging(settings: Settings) -> None:
    """Send every log line of this process to stderr in LOG_FORMAT, from LOG_LEVEL up; an
    exception that ends the process is logged too, as one line rather than a bare traceback."""
    logging.config.dictConfig(logging_config(settings))
    sys.excepthook = _log_uncaught


def _log_uncaught(
    kind: type[BaseException], error: BaseException, traceback: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("flowpilot").critical(
        "the process stops on an uncaught exception", exc_info=(kind, error, traceback)
    )
