"""Starting and watching DagWorkflow runs from tests."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowHandle

from core.config import Settings
from workflows.dag import DagWorkflow, RunInput, RunState
from workflows.definition import resolve_inputs, validate_definition

T = TypeVar("T")


def definition(*nodes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"schema": "flowpilot/v1", "name": "test", "nodes": list(nodes), **fields}


async def start_run(
    client: Client, settings: Settings, raw: dict[str, Any], inputs: dict[str, Any] | None = None
) -> WorkflowHandle[DagWorkflow, RunState]:
    checked = validate_definition(raw)
    return await client.start_workflow(
        DagWorkflow.run,
        RunInput(definition=checked, inputs=resolve_inputs(checked, inputs or {})),
        id=f"run-{uuid.uuid4().hex[:12]}",
        task_queue=settings.temporal_task_queue,
    )


async def eventually(
    probe: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    within: float = 10.0,
    interval: float = 0.1,
) -> T:
    """Poll `probe` every `interval` seconds until `check` holds for its result; fail after
    `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s; last value: {value!r}")
        await asyncio.sleep(interval)


async def node_status(handle: WorkflowHandle[DagWorkflow, RunState], node_id: str) -> str | None:
    state = await handle.query(DagWorkflow.status)
    node = state.nodes.get(node_id)
    return node.status if node else None


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of [start, end) intervals open at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, change in events:
        current += change
        peak = max(peak, current)
    return peak
