"""Dry runs: a definition simulated end to end before it is saved, sending nothing.

The run is a real `DagWorkflow` on Temporal with `RunInput.dry_run` set: templates, `when`,
`on_error`, `foreach` and `on_failure` behave as in a run, while every node that does I/O
or waits gets a pinned or sample output at once. Nothing is written to the runs table.
"""

import asyncio
import contextlib
import uuid
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowFailureError, WorkflowQueryFailedError
from temporalio.service import RPCError

from api import audit, crud
from api.deps import Editor, SessionDep, SettingsDep
from api.errors import GatewayTimeout, ServiceUnavailable
from api.limits import refuse_oversized_run_data
from api.schemas import Strict
from api.temporal import temporal_client
from core.config import Settings
from workflows.catalog import NODE_TYPES
from workflows.dag import DagWorkflow, DryRun, RunInput, RunState
from workflows.definition import (
    Definition,
    DefinitionError,
    Issue,
    Node,
    resolve_inputs,
    validate_definition,
)

router = APIRouter(tags=["workflows"])
MAX_PINS = 500
PinnedError = Annotated[str, Field(min_length=1, max_length=2000)]


class DryRunRequest(Strict):
    definition: dict[str, Any]
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="Run inputs, checked as for a run."
    )
    pinned: dict[str, Any] = Field(
        default_factory=dict,
        max_length=MAX_PINS,
        description="Node id → the output that node gives instead of its type's sample.",
    )
    pinned_errors: dict[str, PinnedError] = Field(
        default_factory=dict,
        max_length=MAX_PINS,
        description="Node id → a message that node fails with, as if its service had "
        "refused for good (its `on_error` applies).",
    )


class DryRunNode(BaseModel):
    node_id: str
    type: str
    status: str
    input: Any = None
    output: Any = None
    error: str | None = None
    simulated: Literal["pinned", "sample"] | None = Field(
        description="Where a simulated node's result came from; null for nodes that ran as "
        "in a real run (transform, foreach) or never reached their stand-in."
    )


class DryRunResult(BaseModel):
    status: str
    output: Any = None
    error: str | None = None
    nodes: list[DryRunNode]


@router.post("/workflows/dry-run", response_model=DryRunResult)
async def dry_run_workflow(
    body: DryRunRequest,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> DryRunResult:
    """Simulate a definition without saving it: nodes that do I/O or wait give pinned or
    sample outputs at once, so the data flow shows end to end and nothing is sent."""
    definition = validate_definition(body.definition)
    await crud.check_credentials(session, user.id, body.definition)
    inputs = resolve_inputs(definition, body.inputs)
    refuse_oversized_run_data(inputs=inputs, pinned=body.pinned)
    dry_run = DryRun(pinned=body.pinned, pinned_errors=body.pinned_errors)
    _check_pins(definition, dry_run)
    run_id = f"dry-run-{uuid.uuid4()}"
    run_input = RunInput(
        definition=definition,
        inputs=inputs,
        record=False,
        owner_id=str(user.id),
        dry_run=dry_run,
    )
    state = await _simulate(await temporal_client(request), settings, run_id, run_input)
    audit.record(
        session,
        request,
        user.id,
        "workflow.dry_run",
        run_id,
        name=definition.name,
        status=state.status,
    )
    await session.commit()
    types = {node.id: node.type for node in definition.nodes + definition.on_failure}
    return DryRunResult(
        status=state.status,
        output=state.output,
        error=state.error,
        nodes=[
            DryRunNode(
                node_id=node_id,
                type=types[node_id],
                simulated=dry_run.simulation_of(node_id, types[node_id], node),
                **node.model_dump(include={"status", "input", "output", "error"}),
            )
            for node_id, node in state.nodes.items()
        ],
    )


def _check_pins(definition: Definition, dry_run: DryRun) -> None:
    """Each pin must name a node the dry run simulates, foreach bodies included (422)."""
    types = _node_types(definition.nodes + definition.on_failure)
    issues = []
    for field, pins in (("pinned", dry_run.pinned), ("pinned_errors", dry_run.pinned_errors)):
        for node_id in pins:
            node_type = types.get(node_id)
            if node_type is None:
                message = f"no node '{node_id}' in the definition"
            elif not NODE_TYPES[node_type].simulated_in_dry_run:
                message = f"'{node_type}' nodes run in a dry run as in a real one: only nodes "
                message += "that do I/O or wait can be pinned"
            elif field == "pinned_errors" and node_id in dry_run.pinned:
                message = "pinned with both an output and an error: give one"
            else:
                continue
            issues.append(Issue(node=node_id, field=field, message=message))
    if issues:
        raise DefinitionError(issues)


def _node_types(nodes: list[Node]) -> dict[str, str]:
    """Node id → type of every node, in foreach bodies too (validated: their nodes parse)."""
    types: dict[str, str] = {}
    for node in nodes:
        types[node.id] = node.type
        body = node.params.get("nodes")
        if node.type == "foreach" and isinstance(body, list):
            types.update(_node_types([Node.model_validate(raw) for raw in body]))
    return types


async def _simulate(
    client: Client, settings: Settings, run_id: str, run_input: RunInput
) -> RunState:
    """Start the dry run and wait for its end state; a failed run's state is the answer too.

    The run's own execution timeout, twice the API's wait, ends it on Temporal even if the
    API dies while waiting.
    """
    timeout = settings.dry_run_timeout_seconds
    try:
        handle = await client.start_workflow(
            DagWorkflow.run,
            run_input,
            id=run_id,
            task_queue=settings.temporal_task_queue,
            execution_timeout=timedelta(seconds=2 * timeout),
        )
    except RPCError as error:
        raise ServiceUnavailable(f"Temporal did not accept the dry run: {error}") from None
    try:
        try:
            return await asyncio.wait_for(handle.result(), timeout)
        except WorkflowFailureError:
            return await handle.query(DagWorkflow.status)
    except TimeoutError:
        with contextlib.suppress(RPCError):
            await handle.terminate("the dry run timed out")
        raise GatewayTimeout(f"the dry run did not finish within {timeout:g} seconds") from None
    except (RPCError, WorkflowQueryFailedError) as error:
        raise ServiceUnavailable(f"Temporal failed during the dry run: {error}") from None
