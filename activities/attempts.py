"""Stamping non-retryable activity failures with the attempt they happened on."""

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from workflows.contract import FAILED_ON_ATTEMPT


class FailedAttemptInterceptor(Interceptor):
    """When a node's activity fails for good, the workflow learns on which attempt.

    A failure after exhausted retries is on the last attempt, but a non-retryable one (a
    4xx, invalid params) may come on any attempt, and the run's record should say which.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _StampFailedAttempt(next)


class _StampFailedAttempt(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except ApplicationError as error:
            if not error.non_retryable:
                raise
            raise ApplicationError(
                error.message,
                *error.details,
                {FAILED_ON_ATTEMPT: activity.info().attempt},
                type=error.type,
                non_retryable=True,
            ) from error.__cause__
