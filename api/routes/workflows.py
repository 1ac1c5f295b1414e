"""Workflows: CRUD, immutable versions, validation."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlmodel import and_, col, or_, select

from api import audit, crud, schedules
from api.deps import CurrentUser, Editor, SessionDep, SettingsDep
from api.errors import NotFound
from api.node_test import run_node_test
from api.pagination import MAX_LIMIT, newest_first, read_page
from api.schemas import (
    NodeTestRequest,
    NodeTestResult,
    Page,
    ScheduleInfo,
    ValidateRequest,
    ValidateResponse,
    ValidationIssue,
    WorkflowPublic,
    WorkflowVersionPublic,
    WorkflowWrite,
)
from api.temporal import temporal_client
from core.config import Settings
from core.models import User, Workflow, WorkflowVersion
from workflows.definition import Definition, DefinitionError, validate_definition

router = APIRouter(prefix="/workflows", tags=["workflows"])
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


async def _sync_schedule(
    request: Request,
    settings: Settings,
    workflow: Workflow,
    definition: Definition,
    was_scheduled: bool,
) -> None:
    """Bring the Temporal Schedule in line before the change commits (503 if Temporal is out)."""
    if definition.trigger.type == "schedule" or was_scheduled:
        await schedules.sync_schedule(
            await temporal_client(request), settings, workflow, definition
        )


def public(workflow: Workflow, version: WorkflowVersion, settings: Settings) -> WorkflowPublic:
    webhook_url = (
        f"{settings.public_url.rstrip('/')}/api/hooks/{workflow.webhook_token}"
        if workflow.webhook_token
        else None
    )
    return WorkflowPublic(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        version=workflow.current_version,
        definition=version.definition,
        trigger=version.definition.get("trigger") or {"type": "manual"},
        webhook_url=webhook_url,
        paused=workflow.paused,
        owner_id=workflow.owner_id,
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
    )


@router.post("/validate", response_model=ValidateResponse)
async def validate_workflow(body: ValidateRequest, _user: CurrentUser) -> ValidateResponse:
    """Check a definition without saving it; every problem names its node and field."""
    try:
        validate_definition(body.definition)
    except DefinitionError as error:
        issues = [ValidationIssue(**issue.model_dump()) for issue in error.issues]
        return ValidateResponse(valid=False, errors=issues)
    return ValidateResponse(valid=True, errors=[])


@router.post("/test-node", response_model=NodeTestResult)
async def test_step(
    body: NodeTestRequest,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> NodeTestResult:
    """Run one node on the worker with sample inputs and upstream outputs; nothing is saved."""
    await crud.check_credentials(session, user.id, {"nodes": [body.node]})
    client = await temporal_client(request)
    return await run_node_test(client, settings, body, user.id)


@router.get("", response_model=Page[WorkflowPublic])
async def read_workflows(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 50,
    cursor: str | None = None,
) -> Page[WorkflowPublic]:
    """Your workflows (every workflow for admins), newest first."""
    query = newest_first(
        select(Workflow).where(crud.owned_by(user)), Workflow, after_cursor=bool(cursor)
    )
    workflows, next_cursor = await read_page(session, query, cursor, limit)
    versions = {(v.workflow_id, v.version): v for v in await _current_versions(session, workflows)}
    items = [public(w, versions[(w.id, w.current_version)], settings) for w in workflows]
    return Page(items=items, next_cursor=next_cursor)


async def _current_versions(
    session: SessionDep, workflows: list[Workflow]
) -> list[WorkflowVersion]:
    """The current version row of each workflow, in one query (not every version ever)."""
    if not workflows:
        return []
    current = [
        and_(WorkflowVersion.workflow_id == w.id, WorkflowVersion.version == w.current_version)
        for w in workflows
    ]
    return list((await session.exec(select(WorkflowVersion).where(or_(*current)))).all())


@router.post("", response_model=WorkflowPublic, status_code=status.HTTP_201_CREATED)
async def create_workflow(
    body: WorkflowWrite, user: Editor, session: SessionDep, settings: SettingsDep, request: Request
) -> WorkflowPublic:
    """Save a new workflow; its definition becomes version 1."""
    definition = validate_definition(body.definition)
    workflow = crud.create_workflow(session, user, body.definition, definition)
    await crud.check_credentials(session, workflow.owner_id, body.definition)
    await _sync_schedule(request, settings, workflow, definition, was_scheduled=False)
    audit.record(session, request, user.id, "workflow.create", f"workflow:{workflow.id}")
    await session.commit()
    return public(workflow, await crud.get_version(session, workflow, 1), settings)


@router.get("/{workflow_id}", response_model=WorkflowPublic)
async def read_workflow(
    workflow_id: uuid.UUID, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> WorkflowPublic:
    """One workflow with its current definition."""
    workflow = await crud.get_workflow(session, user, workflow_id)
    version = await crud.get_version(session, workflow, workflow.current_version)
    return public(workflow, version, settings)


@router.put("/{workflow_id}", response_model=WorkflowPublic)
async def update_workflow(
    workflow_id: uuid.UUID,
    body: WorkflowWrite,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WorkflowPublic:
    """Save a new version; earlier versions and the runs pinned to them stay as they were."""
    workflow = await crud.get_workflow(session, user, workflow_id, for_update=True)
    was_scheduled = workflow.trigger_type == "schedule"
    definition = validate_definition(body.definition)
    version = crud.add_version(session, user, workflow, body.definition, definition)
    await crud.check_credentials(session, workflow.owner_id, body.definition)
    await _sync_schedule(request, settings, workflow, definition, was_scheduled)
    audit.record(
        session,
        request,
        user.id,
        "workflow.update",
        f"workflow:{workflow.id}",
        version=version.version,
    )
    await session.commit()
    return public(workflow, version, settings)


@router.delete("/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_workflow(
    workflow_id: uuid.UUID, user: Editor, session: SessionDep, request: Request
) -> Response:
    """Delete a workflow with its versions and run history."""
    workflow = await crud.get_workflow(session, user, workflow_id)
    if workflow.trigger_type == "schedule":
        await schedules.delete_schedule(await temporal_client(request), workflow)
    await session.delete(workflow)
    audit.record(session, request, user.id, "workflow.delete", f"workflow:{workflow.id}")
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{workflow_id}/versions", response_model=list[WorkflowVersionPublic])
async def read_workflow_versions(
    workflow_id: uuid.UUID, user: CurrentUser, session: SessionDep
) -> list[WorkflowVersion]:
    """Every version of a workflow, newest first."""
    workflow = await crud.get_workflow(session, user, workflow_id)
    query = (
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow.id)
        .order_by(col(WorkflowVersion.version).desc())
    )
    return list((await session.exec(query)).all())


@router.post("/{workflow_id}/pause", response_model=WorkflowPublic)
async def pause_workflow(
    workflow_id: uuid.UUID,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WorkflowPublic:
    """Stop the schedule and webhook from starting runs; manual runs still work."""
    return await _set_paused(workflow_id, True, user, session, settings, request)


@router.post("/{workflow_id}/resume", response_model=WorkflowPublic)
async def resume_workflow(
    workflow_id: uuid.UUID,
    user: Editor,
    session: SessionDep,
    settings: SettingsDep,
    request: Request,
) -> WorkflowPublic:
    """Let the schedule and webhook start runs again."""
    return await _set_paused(workflow_id, False, user, session, settings, request)


async def _set_paused(
    workflow_id: uuid.UUID,
    paused: bool,
    user: User,
    session: SessionDep,
    settings: Settings,
    request: Request,
) -> WorkflowPublic:
    workflow = await crud.get_workflow(session, user, workflow_id, for_update=True)
    if workflow.trigger_type == "schedule":
        await schedules.set_paused(await temporal_client(request), workflow, paused)
    workflow.paused = paused
    action = "workflow.pause" if paused else "workflow.resume"
    audit.record(session, request, user.id, action, f"workflow:{workflow.id}")
    await session.commit()
    return public(
        workflow, await crud.get_version(session, workflow, workflow.current_version), settings
    )


@router.get("/{workflow_id}/schedule", response_model=ScheduleInfo)
async def read_workflow_schedule(
    workflow_id: uuid.UUID, user: CurrentUser, session: SessionDep, request: Request
) -> ScheduleInfo:
    """The schedule of a workflow with a `schedule` trigger, and its next fire times."""
    workflow = await crud.get_workflow(session, user, workflow_id)
    if workflow.trigger_type != "schedule":
        raise NotFound("this workflow has no schedule trigger")
    client = await temporal_client(request)
    return ScheduleInfo(
        schedule_id=schedules.schedule_id(workflow),
        paused=workflow.paused,
        next_fire_times=await schedules.next_fire_times(client, workflow),
    )
