"""Runs: start, history, detail with per-node results, cancel, approve."""

import asyncio
import copy
import functools
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api import audit, crud
from api.deps import CurrentUser, Editor, PayloadStoreDep, SessionDep, SettingsDep
from api.errors import Conflict, NotFound
from api.launch import StartAudit, launch_run
from api.pagination import MAX_LIMIT, newest_first, read_page
from api.schemas import (
    ApprovalRequest,
    Page,
    RetryRequest,
    RunPublic,
    RunStart,
    RunStatus,
    TaskPublic,
)
from api.temporal import temporal_client
from core.config import Settings
from core.large_values import resolved
from core.logs import bind
from core.models import Run, Task, User
from core.temporal import run_url
from workflows.dag import ApprovalDecision, DagWorkflow
from workflows.definition import resolve_inputs, validate_definition

router = APIRouter(tags=["runs"])
_FINISHED = {"succeeded", "failed", "cancelled"}
EVENT_POLL_SECONDS = 0.25


def public(run: Run, tasks: list[Task], settings: Settings) -> RunPublic:
    return RunPublic(
        **run.model_dump(exclude={"output"}),
        output=run.output,
        temporal_url=run_url(settings, run.temporal_workflow_id),
        nodes=[TaskPublic(**task.model_dump()) for task in tasks],
    )


async def get_run(session: AsyncSession, user: User, run_id: uuid.UUID) -> Run:
    run = await crud.get_owned(session, user, Run, run_id)
    bind(run_id=run.temporal_workflow_id, workflow_id=str(run.workflow_id))
    return run


async def tasks_of(session: AsyncSession, run: Run) -> list[Task]:
    query = select(Task).where(Task.run_id == run.id).order_by(col(Task.started_at), Task.node_id)
    return list((await session.exec(query)).all())


@router.post(
    "/workflows/{workflow_id}/runs", response_model=RunPublic, status_code=status.HTTP_201_CREATED
)
async def start_run(
    workflow_id: uuid.UUID,
    body: RunStart,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> RunPublic:
    """Run the workflow's current version with `inputs` (checked against its `inputs`)."""
    workflow = await crud.get_workflow(session, user, workflow_id)
    version = await crud.get_version(session, workflow, workflow.current_version)
    definition = crud.definition_of(version)
    inputs = resolve_inputs(definition, body.inputs)
    client = await temporal_client(request)
    start = StartAudit(request, user.id, details={"workflow": str(workflow.id)})
    run, _ = await launch_run(
        session,
        client,
        settings,
        workflow,
        definition,
        inputs,
        trigger="manual",
        audit_as=start,
        priority=body.priority,
    )
    return public(run, [], settings)


@router.post("/runs/{run_id}/retry", response_model=RunPublic, status_code=201)
async def retry_run(
    run_id: uuid.UUID,
    body: RetryRequest,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    store: PayloadStoreDep,
    request: Request,
) -> RunPublic:
    """Start a new run from the failure: nodes that succeeded keep their recorded outputs.

    Optionally with new params for the failed node, and on the latest version.
    """
    failed_run = await get_run(session, user, run_id)
    if failed_run.status not in ("failed", "cancelled"):
        raise Conflict("only failed or cancelled runs can be retried")
    workflow = await crud.get_workflow(session, user, failed_run.workflow_id)
    version_number = workflow.current_version if body.latest else failed_run.version
    raw = copy.deepcopy((await crud.get_version(session, workflow, version_number)).definition)
    tasks = await tasks_of(session, failed_run)
    if body.params is not None:
        failed = next((task.node_id for task in tasks if task.status == "failed"), None)
        node = next((n for n in raw["nodes"] if n.get("id") == failed), None)
        if node is None:
            raise Conflict("the run has no failed node whose params could be replaced")
        node["params"] = body.params
    definition = validate_definition(raw)
    node_ids = {node.id for node in definition.nodes}
    reused = {
        t.node_id: await resolved(t.output, store)
        for t in tasks
        if t.status == "succeeded" and t.node_id in node_ids
    }
    client = await temporal_client(request)
    run, _ = await launch_run(
        session,
        client,
        settings,
        workflow,
        definition,
        failed_run.inputs or {},
        trigger="retry",
        audit_as=StartAudit(
            request,
            user.id,
            "run.retry",
            {"retry_of": str(failed_run.id), "reused": sorted(reused)},
        ),
        version=version_number,
        reused_outputs=reused,
    )
    return public(run, [], settings)


# What a run in the history shows: plain columns, not ORM objects, since a page of them is
# only read and answered (no identity map, no change tracking, no model_dump per row).
_LISTED_COLUMNS = (
    Run.id,
    Run.workflow_id,
    Run.version,
    Run.status,
    Run.trigger,
    Run.inputs,
    Run.output,
    Run.error,
    Run.created_at,
    Run.started_at,
    Run.finished_at,
    Run.temporal_workflow_id,
)
_LISTED_NAMES = tuple(column.key for column in _LISTED_COLUMNS)
_LISTED_RUNS = TypeAdapter(list[RunPublic])


@functools.cache
def _run_history_statement(
    of_owner: bool, of_workflow: bool, with_status: bool, after_cursor: bool
) -> Any:
    """The history query for one combination of filters, built once: the run history is the
    API's busiest read, and composing the statement cost more than running it."""
    query = select(*_LISTED_COLUMNS)
    if of_owner:
        query = query.where(Run.owner_id == bindparam("owner_id"))
    if of_workflow:
        query = query.where(Run.workflow_id == bindparam("workflow_id"))
    if with_status:
        query = query.where(Run.status == bindparam("status"))
    return newest_first(query, Run, after_cursor=after_cursor)


@router.get("/runs", response_model=Page[RunPublic])
async def read_runs(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    workflow_id: uuid.UUID | None = None,
    run_status: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: str | None = None,
) -> Page[RunPublic]:
    """Run history, newest first; filter by workflow and status."""
    of_owner = user.role != "admin"
    statement = _run_history_statement(
        of_owner, workflow_id is not None, run_status is not None, bool(cursor)
    )
    rows, next_cursor = await read_page(
        session,
        statement,
        cursor,
        limit,
        owner_id=user.id if of_owner else None,
        workflow_id=workflow_id,
        status=run_status,
    )
    items = _LISTED_RUNS.validate_python(
        [
            {
                **dict(zip(_LISTED_NAMES, row, strict=True)),
                "temporal_url": run_url(settings, row.temporal_workflow_id),
            }
            for row in rows
        ]
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/runs/{run_id}", response_model=RunPublic)
async def read_run(
    run_id: uuid.UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> RunPublic:
    """One run with every node's status, attempts, input, output, error and timings."""
    run = await get_run(session, user, run_id)
    return public(run, await tasks_of(session, run), settings)


@router.get("/runs/{run_id}/output", response_model=Any)
async def read_run_output(
    run_id: uuid.UUID, user: CurrentUser, session: SessionDep, store: PayloadStoreDep
) -> Any:
    """The run's whole output, also when its record shows a stand-in for a large one."""
    run = await get_run(session, user, run_id)
    return await resolved(run.output, store)


@router.get("/runs/{run_id}/nodes/{node_id}/{part}", response_model=Any)
async def read_node_value(
    run_id: uuid.UUID,
    node_id: str,
    part: Literal["input", "output"],
    user: CurrentUser,
    session: SessionDep,
    store: PayloadStoreDep,
) -> Any:
    """A node's whole input or output, also when the run's record shows a stand-in
    (`{"$stored": {"key", "size", "preview"}}`) for a large one."""
    run = await get_run(session, user, run_id)
    task = next((task for task in await tasks_of(session, run) if task.node_id == node_id), None)
    if task is None:
        raise NotFound(f"run {run_id} has no node '{node_id}'")
    return await resolved(getattr(task, part), store)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse)
async def stream_run_events(
    run_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> StreamingResponse:
    """Server-sent events: `node` when a node's status changes, `run` when the run's does.

    Read from the database, which every API replica shares; the stream ends with the run.
    """
    run = await get_run(session, user, run_id)
    sessions = request.app.state.sessions
    return StreamingResponse(
        _run_events(sessions, run.id, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _run_events(
    sessions: async_sessionmaker[AsyncSession], run_id: uuid.UUID, request: Request
) -> AsyncIterator[str]:
    seen_nodes: dict[str, tuple[str, int]] = {}
    seen_status: str | None = None
    while not await request.is_disconnected():
        async with sessions() as session:
            run = await session.get(Run, run_id)
            if run is None:
                return
            for task in await tasks_of(session, run):
                signature = (task.status, task.attempts)
                if seen_nodes.get(task.node_id) != signature:
                    seen_nodes[task.node_id] = signature
                    yield _sse("node", TaskPublic(**task.model_dump()).model_dump_json())
            if run.status != seen_status:
                seen_status = run.status
                summary = {"id": str(run.id), "status": run.status, "error": run.error}
                yield _sse("run", json.dumps(summary))
            if run.status in _FINISHED:
                return
        await asyncio.sleep(EVENT_POLL_SECONDS)


def _sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


@router.post("/runs/{run_id}/cancel", response_model=RunPublic, status_code=202)
async def cancel_run(
    run_id: uuid.UUID, user: Editor, session: SessionDep, settings: SettingsDep, request: Request
) -> RunPublic:
    """Ask the run to stop; running nodes are cancelled and it ends as `cancelled`."""
    run = await get_run(session, user, run_id)
    if run.status in _FINISHED:
        raise Conflict(f"the run has already {run.status}")
    client = await temporal_client(request)
    await client.get_workflow_handle(run.temporal_workflow_id).cancel()
    audit.record(session, request, user.id, "run.cancel", f"run:{run.id}")
    await session.commit()
    return public(run, await tasks_of(session, run), settings)


@router.post("/runs/{run_id}/approve", response_model=RunPublic, status_code=202)
async def approve_run(
    run_id: uuid.UUID,
    body: ApprovalRequest,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> RunPublic:
    """Approve or reject the run's waiting `approval` node."""
    run = await get_run(session, user, run_id)
    tasks = await tasks_of(session, run)
    if not any(t.node_id == body.node_id and t.status == "waiting" for t in tasks):
        raise Conflict(f"node '{body.node_id}' is not waiting for approval")
    decision = ApprovalDecision(
        node_id=body.node_id, approved=body.approved, by=user.email, comment=body.comment
    )
    client = await temporal_client(request)
    await client.get_workflow_handle(run.temporal_workflow_id).signal(DagWorkflow.approve, decision)
    action = "run.approve" if body.approved else "run.reject"
    audit.record(session, request, user.id, action, f"run:{run.id}", node=body.node_id)
    await session.commit()
    return public(run, tasks, settings)
