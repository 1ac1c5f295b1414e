"""Recording run and node progress in Flowpilot's database, so history outlives Temporal's."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.metrics import observe
from core.models import Run, Task, Workflow, utcnow
from workflows.contract import RECORD_PROGRESS, NodeProgress, RunProgress


class RecordingActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=RECORD_PROGRESS)
    async def record_progress(self, progress: RunProgress) -> None:
        """Apply one batch of changes to the run's row and its task rows."""
        async with self._sessions() as session:
            query = select(Run).where(Run.temporal_workflow_id == progress.workflow_id)
            run = (await session.exec(query)).first() or await _scheduled_run(session, progress)
            if run is None:
                return  # started outside the API (e.g. `flowpilot run`): nothing to record
            session.add(run)
            run.status = progress.status
            run.started_at = run.started_at or utcnow()
            if progress.finished:
                run.finished_at = utcnow()
                run.output = storable(progress.output)
                run.error = storable(progress.error)
            tasks = await session.exec(select(Task).where(Task.run_id == run.id))
            existing = {task.node_id: task for task in tasks}
            for node in progress.nodes:
                task = existing.get(node.node_id) or Task(
                    run_id=run.id, node_id=node.node_id, type=node.type
                )
                _apply(task, node)
                session.add(task)
            await session.commit()
        observe(progress)


async def _scheduled_run(session: AsyncSession, progress: RunProgress) -> Run | None:
    """A new row for a run that a Temporal Schedule started, from the origin it carries.

    None when the run has no origin or its workflow has been deleted since.
    """
    origin = progress.origin
    if origin is None or await session.get(Workflow, uuid.UUID(origin.workflow_id)) is None:
        return None
    return Run(
        workflow_id=uuid.UUID(origin.workflow_id),
        owner_id=uuid.UUID(origin.owner_id),
        version=origin.version,
        trigger=origin.trigger,
        inputs=origin.inputs,
        temporal_workflow_id=progress.workflow_id,
    )


def _apply(task: Task, node: NodeProgress) -> None:
    task.status = node.status
    task.attempts = node.attempts
    task.input = storable(node.input)
    task.output = storable(node.output)
    task.error = storable(node.error)
    task.started_at = _moment(node.started_at)
    task.finished_at = _moment(node.finished_at)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def storable(value: Any) -> Any:
    """`value` with NUL characters replaced: PostgreSQL text and JSONB cannot hold them."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value
