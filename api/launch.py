"""Starting a run: a row in the database and a DagWorkflow on Temporal, never one alone."""

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import Priority, WorkflowIDConflictPolicy
from temporalio.service import RPCError

from api import audit
from api.errors import ServiceUnavailable
from api.limits import refuse_nul, refuse_oversized_run_data
from api.metrics import RUNS_STARTED
from core.config import Settings
from core.logs import bind
from core.models import Run, Workflow
from workflows.dag import DagWorkflow, RunInput
from workflows.definition import Definition, RunPriority

log = logging.getLogger("flowpilot.runs")

PRIORITY_KEYS: dict[RunPriority, int] = {"high": 1, "normal": 3, "low": 5}
"""Temporal's priority keys (1 is picked first; 3 is the default of runs that name none).
2 and 4 stay free for levels between these three."""


def temporal_priority(priority: RunPriority) -> Priority:
    """The Temporal priority of a run; its activities and child workflows inherit it."""
    return Priority(priority_key=PRIORITY_KEYS[priority])


@dataclass(frozen=True)
class StartAudit:
    """The audit row a start writes, in the same transaction as the run's row."""

    request: Request
    actor_id: uuid.UUID | None
    action: str = "run.start"
    details: dict[str, Any] = field(default_factory=dict)


async def launch_run(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    workflow: Workflow,
    definition: Definition,
    inputs: dict[str, Any],
    *,
    trigger: str,
    audit_as: StartAudit,
    temporal_id: str | None = None,
    version: int | None = None,
    reused_outputs: dict[str, Any] | None = None,
    priority: RunPriority | None = None,
) -> tuple[Run, bool]:
    """Record and start a run of `workflow`'s current version; returns (run, is_new).

    `priority` overrides the definition's `defaults.priority` for this run.

    A given `temporal_id` makes the start idempotent: a second call with the same id
    returns the first call's run instead of starting another.

    The run's row and its audit row are committed, in one transaction, before Temporal is
    asked to start the run; if Temporal refuses, both are deleted. The worker records the
    Temporal run id with the run's first progress, so a start costs one commit.
    """
    refuse_nul(inputs, ["body"])
    refuse_oversized_run_data(inputs=inputs)
    run_id = uuid.uuid4()
    run = Run(
        id=run_id,
        workflow_id=workflow.id,
        owner_id=workflow.owner_id,
        version=version or workflow.current_version,
        trigger=trigger,
        inputs=inputs,
        temporal_workflow_id=temporal_id or f"run-{run_id}",
    )
    bind(run_id=run.temporal_workflow_id, workflow_id=str(workflow.id))
    session.add(run)
    entry = audit.record(
        session,
        audit_as.request,
        audit_as.actor_id,
        audit_as.action,
        f"run:{run_id}",
        **audit_as.details,
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        query = select(Run).where(Run.temporal_workflow_id == temporal_id)
        existing = (await session.exec(query)).first()
        if existing is None:
            raise
        bind(run_id=existing.temporal_workflow_id)
        return existing, False
    try:
        await client.start_workflow(
            DagWorkflow.run,
            RunInput(
                definition=definition,
                inputs=inputs,
                record=True,
                owner_id=str(workflow.owner_id),
                reused_outputs=reused_outputs or {},
                end_records_last_step=True,
            ),
            id=run.temporal_workflow_id,
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            priority=temporal_priority(priority or definition.defaults.priority),
        )
    except Exception as error:
        # No run row without a workflow on Temporal, whatever stopped the start.
        await session.delete(run)
        await session.delete(entry)
        await session.commit()
        if isinstance(error, RPCError):
            raise ServiceUnavailable(f"Temporal did not accept the run: {error}") from None
        raise
    RUNS_STARTED.labels(trigger).inc()
    log.info("run started (%s trigger)", trigger)
    return run, True
