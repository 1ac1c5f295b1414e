"""Webhook triggers: `POST /api/hooks/{token}` starts a run of the workflow behind the token."""

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import select
from temporalio.client import Client, WorkflowFailureError

from api import crud
from api.deps import SessionDep, SettingsDep
from api.errors import Conflict, NotFound
from api.launch import StartAudit, launch_run
from api.ratelimit import webhook_rate_limit
from api.temporal import temporal_client
from core.models import Workflow
from workflows.dag import DagWorkflow
from workflows.definition import RunPriority, WebhookTrigger, resolve_inputs
from workflows.durations import parse_duration

router = APIRouter(prefix="/hooks", tags=["webhooks"])

# Providers that name each delivery: a redelivery carries the same id.
DELIVERY_ID_HEADERS = ("idempotency-key", "x-github-delivery", "x-request-id", "x-delivery-id")


@router.post("/{token}", dependencies=[Depends(webhook_rate_limit)])
async def receive_webhook(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    payload: Annotated[dict[str, Any], Body(default_factory=dict)],
    user_agent: Annotated[str | None, Header()] = None,
    priority: Annotated[
        RunPriority | None,
        Query(description="The run's priority; unset: the workflow's `defaults.priority`."),
    ] = None,
) -> JSONResponse:
    """Start a run with the JSON body as inputs. No bearer token: the URL is the secret.

    Declared inputs are taken from the body (checked and defaulted); the whole delivery is
    in `inputs.webhook` (`body`, `delivery_id`). The same `Idempotency-Key` (or provider
    delivery id) always answers with the same run. `?priority=high` in the URL (which a
    provider can be given as it is) starts the run with that priority.
    """
    query = select(Workflow).where(Workflow.webhook_token == token)
    workflow = (await session.exec(query)).first() if len(token) <= 64 else None
    if workflow is None:
        raise NotFound("unknown webhook")
    if workflow.paused:
        raise Conflict("this workflow is paused")
    version = await crud.get_version(session, workflow, workflow.current_version)
    definition = crud.definition_of(version)
    declared = {key: value for key, value in payload.items() if key in definition.inputs}
    inputs = resolve_inputs(definition, declared)
    delivery_id = _delivery_id(request)
    inputs["webhook"] = {"body": payload, "delivery_id": delivery_id, "user_agent": user_agent}
    temporal_id = None
    if delivery_id:
        digest = hashlib.sha256(delivery_id.encode()).hexdigest()[:32]
        temporal_id = f"hook-{workflow.id}-{digest}"
    client = await temporal_client(request)
    run, is_new = await launch_run(
        session,
        client,
        settings,
        workflow,
        definition,
        inputs,
        trigger="webhook",
        audit_as=StartAudit(request, None, details={"trigger": "webhook"}),
        temporal_id=temporal_id,
        priority=priority,
    )
    answer: dict[str, Any] = {"run_id": str(run.id), "status": run.status, "new": is_new}
    trigger = definition.trigger
    if isinstance(trigger, WebhookTrigger) and trigger.respond == "output":
        return await _respond_with_output(client, run.temporal_workflow_id, trigger, answer)
    return JSONResponse(answer, status_code=202)


def _delivery_id(request: Request) -> str | None:
    for header in DELIVERY_ID_HEADERS:
        value = request.headers.get(header)
        if value:
            return value[:200]
    return None


async def _respond_with_output(
    client: Client, temporal_id: str, trigger: WebhookTrigger, answer: dict[str, Any]
) -> JSONResponse:
    """Wait for the run and answer with its output, as n8n's "respond with last node" does.

    A failed run is still a delivered webhook: 200 with `status: failed` and the error.
    """
    handle = client.get_workflow_handle_for(DagWorkflow.run, temporal_id)
    timeout = parse_duration(trigger.timeout).total_seconds()
    try:
        result = await asyncio.wait_for(handle.result(), timeout)
    except TimeoutError:
        return JSONResponse({**answer, "status": "running"}, status_code=202)
    except WorkflowFailureError as error:
        message = str(error.cause) if error.cause else "the run failed"
        return JSONResponse({**answer, "status": "failed", "error": message}, status_code=200)
    return JSONResponse({**answer, "status": "succeeded", "output": result.output}, status_code=200)
