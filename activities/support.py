"""Helpers every connector activity uses: error translation, params, heartbeats."""

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.errors import ConnectorError

ParamsT = TypeVar("ParamsT", bound=BaseModel)
ActivityRegistry = dict[str, Callable[..., Any]]
"""Node type (or internal activity name) → activity function."""


def application_error(err: ConnectorError) -> ApplicationError:
    """The Temporal form of a connector failure: its kind becomes the error type."""
    delay = timedelta(seconds=err.retry_after) if err.retry_after is not None else None
    return ApplicationError(
        err.message,
        type=err.kind,
        non_retryable=not err.retryable,
        next_retry_delay=delay,
    )


@contextmanager
def connector_errors() -> Iterator[None]:
    """Re-raise a `ConnectorError` from the body as the matching `ApplicationError`."""
    try:
        yield
    except ConnectorError as err:
        raise application_error(err) from err


def validate_params(model: type[ParamsT], params: Mapping[str, Any]) -> ParamsT:
    """Validate a node's params; invalid params fail the node at once instead of retrying."""
    try:
        return model.model_validate(params)
    except ValidationError as err:
        message = f"invalid params: {err.error_count()} error(s): " + "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in err.errors()
        )
        raise ApplicationError(message, type="InvalidParams", non_retryable=True) from err


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeat in the background while the body runs, if the activity has a heartbeat timeout.

    Beats every third of the timeout, so one late beat does not time the activity out,
    and the server learns within that timeout that a worker died or the run was cancelled.
    """
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        yield
        return
    beats = asyncio.create_task(_beat_every(timeout.total_seconds() / 3))
    try:
        yield
    finally:
        beats.cancel()
        await asyncio.wait([beats])


async def _beat_every(interval: float) -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(interval)
