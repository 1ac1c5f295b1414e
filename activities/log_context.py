"""Every log line an activity writes says which run and node it is for."""

from collections.abc import Sequence
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.logs import bound
from workflows.contract import NodeInput, RunProgress


def activity_log_ids(args: Sequence[Any], info: activity.Info) -> dict[str, str | None]:
    """The ids of an activity's lines, from its input (decoded by now) and its info.

    `run_id` is the run's workflow id: a node's input names it even when the node runs in a
    child workflow of a `foreach`, whose own workflow id is the child's.
    """
    first = args[0] if args else None
    if isinstance(first, NodeInput):
        return {"run_id": first.run_id, "node_id": first.node_id}
    if isinstance(first, RunProgress):
        origin = first.origin
        return {"run_id": first.workflow_id, "workflow_id": origin and origin.workflow_id}
    return {"run_id": info.workflow_id}


class ActivityLogContext(Interceptor):
    """Binds the run and node ids (`core.logs`) while an activity runs."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindIds(next)


class _BindIds(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        # Each activity runs in a task of its own, so what is bound ends with it.
        with bound(**activity_log_ids(input.args, activity.info())):
            return await self.next.execute_activity(input)
