"""The editor's "test step": run one node on the worker with sample data, saving nothing."""

import asyncio
import uuid
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from api.errors import ServiceUnavailable
from api.limits import refuse_oversized_run_data
from api.schemas import NodeTestRequest, NodeTestResult
from core.config import Settings
from workflows.dag import DagWorkflow, RunInput
from workflows.definition import Definition, validate_definition


def step_definition(request: NodeTestRequest) -> Definition:
    """The node alone, after stand-ins for its upstream nodes that yield the sample outputs.

    Every sample becomes a `needs` of the node, so its templates may read any of them.
    """
    node = dict(request.node)
    stand_ins = [
        {"id": node_id, "type": "transform", "params": {"value": None}}
        for node_id in request.upstream
    ]
    needs = node.get("needs") or []
    if isinstance(needs, list) and all(isinstance(need, str) for need in needs):
        node["needs"] = sorted(set(needs) | set(request.upstream))
    # anything else is left as it is, for the validation to name
    inputs = {name: {"type": _json_type(value)} for name, value in request.inputs.items()}
    return validate_definition({"name": "test step", "inputs": inputs, "nodes": [*stand_ins, node]})


async def run_node_test(
    client: Client, settings: Settings, request: NodeTestRequest, owner_id: uuid.UUID
) -> NodeTestResult:
    refuse_oversized_run_data(inputs=request.inputs, upstream=request.upstream)
    definition = step_definition(request)
    node_id = definition.nodes[-1].id
    run_input = RunInput(
        definition=definition,
        inputs=request.inputs,
        owner_id=str(owner_id),
        reused_outputs=request.upstream,
    )
    try:
        handle = await client.start_workflow(
            DagWorkflow.run,
            run_input,
            id=f"test-{uuid.uuid4()}",
            task_queue=settings.temporal_task_queue,
        )
    except RPCError as error:
        raise ServiceUnavailable(f"Temporal did not accept the test: {error}") from None
    try:
        await asyncio.wait_for(handle.result(), request.timeout_seconds)
    except WorkflowFailureError:
        pass  # the node's failure is the answer
    except TimeoutError:
        await handle.terminate("test step timed out")
        return NodeTestResult(status="timed_out", error="the node did not finish in time")
    state = (await handle.query(DagWorkflow.status)).nodes[node_id]
    return NodeTestResult(**state.model_dump(include=set(NodeTestResult.model_fields)))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"
