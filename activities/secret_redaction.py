"""A secret a service echoes back never leaves the activity that sent it.

Credentials reach services in headers and bodies, and some services answer with what they
were sent (an echo endpoint, a 401 page quoting the `Authorization` header, a debug field).
That answer becomes the node's output or error, and from there the run's record, the API's
answers, Temporal's history and the logs. So, like CI systems masking their secrets, every
secret an activity used is replaced by `[redacted]` in what the activity returns or raises.

The activity's code registers what it resolved (`remember_secrets`); `SecretRedaction`, a
worker interceptor, gives each activity its own register and scrubs the result on the way
out (`core.redaction`).
"""

from collections.abc import Collection, Iterable
from contextvars import ContextVar
from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.redaction import MIN_SECRET_LENGTH, redact
from workflows.contract import NodeResult

_secrets: ContextVar[set[str] | None] = ContextVar("activity_secrets", default=None)


def remember_secrets(values: Iterable[str]) -> None:
    """Scrub `values` from what the running activity returns (outside one: no effect)."""
    register = _secrets.get()
    if register is not None:
        register.update(value for value in values if len(value) >= MIN_SECRET_LENGTH)


class SecretRedaction(Interceptor):
    """Scrubs the secrets an activity used from its result and from its failure."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Redact(next)


class _Redact(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        register: set[str] = set()
        token = _secrets.set(register)
        try:
            result = await self.next.execute_activity(input)
        except Exception as error:
            if not register:
                raise
            raise _redacted_error(error, register) from None
        finally:
            _secrets.reset(token)
        if register and isinstance(result, NodeResult):
            return result.model_copy(update={"output": redact(result.output, register)})
        return result


def _redacted_error(error: Exception, secrets: Collection[str]) -> ApplicationError:
    """The same failure with the secrets scrubbed and no cause chain (which would carry the
    unscrubbed messages into Temporal's history). Other exceptions keep their class name as
    the error type and stay retryable, as Temporal would treat them."""
    if isinstance(error, ApplicationError):
        return ApplicationError(
            redact(error.message, secrets),
            *redact(list(error.details), secrets),
            type=error.type,
            non_retryable=error.non_retryable,
            next_retry_delay=error.next_retry_delay,
        )
    return ApplicationError(redact(str(error), secrets), type=type(error).__name__)
