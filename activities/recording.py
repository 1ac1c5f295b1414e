"""Recording run and node progress in Flowpilot's database, so history outlives Temporal's."""

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity

from activities.metrics import observe
from core.large_values import stand_in
from core.models import Run, Task, Workflow, utcnow
from core.payload_store import PayloadStore
from workflows.contract import RECORD_PROGRESS, NodeProgress, RunProgress

_RUNS = sa.inspect(Run).local_table
_TASKS = sa.inspect(Task).local_table
_TASK_FIELDS = ("status", "attempts", "input", "output", "error", "started_at", "finished_at")


class RecordingActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        store: PayloadStore,
        inline_max_bytes: int,
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._inline_max_bytes = inline_max_bytes

    @activity.defn(name=RECORD_PROGRESS)
    async def record_progress(self, progress: RunProgress) -> None:
        """Apply one batch of changes to the run's row and its task rows, in one transaction.

        Two statements whatever the number of nodes (an UPDATE of the run and one upsert
        of its tasks): a run of 40 nodes is recorded at the end in one round of writes.
        Large inputs and outputs are recorded as stand-ins (core/large_values.py).
        """
        progress = await self._with_stand_ins(progress)
        async with self._sessions() as session:
            run_id = await _update_run(session, progress)
            if run_id is None:
                run_id = await _scheduled_run(session, progress)
            if run_id is None:
                return  # started outside the API (e.g. `flowpilot run`): nothing to record
            if progress.nodes:
                await _upsert_tasks(session, run_id, progress.nodes)
            await session.commit()
        observe(progress)

    async def _with_stand_ins(self, progress: RunProgress) -> RunProgress:
        async def small(value: Any) -> Any:
            return await stand_in(value, self._store, self._inline_max_bytes)

        nodes = [
            node.model_copy(
                update={"input": await small(node.input), "output": await small(node.output)}
            )
            for node in progress.nodes
        ]
        return progress.model_copy(update={"nodes": nodes, "output": await small(progress.output)})


async def _update_run(session: AsyncSession, progress: RunProgress) -> uuid.UUID | None:
    values: dict[str, Any] = {
        "status": progress.status,
        "started_at": sa.func.coalesce(_RUNS.c.started_at, utcnow()),
        "temporal_run_id": sa.func.coalesce(
            _RUNS.c.temporal_run_id, activity.info().workflow_run_id
        ),
    }
    if progress.finished:
        values |= {
            "finished_at": utcnow(),
            "output": storable(progress.output),
            "error": storable(progress.error),
        }
    statement = (
        sa.update(_RUNS)
        .where(_RUNS.c.temporal_workflow_id == progress.workflow_id)
        .values(values)
        .returning(_RUNS.c.id)
    )
    run_id: uuid.UUID | None = (await session.exec(statement)).scalar_one_or_none()
    return run_id


async def _scheduled_run(session: AsyncSession, progress: RunProgress) -> uuid.UUID | None:
    """A new row for a run that a Temporal Schedule started, from the origin it carries.

    None when the run has no origin or its workflow has been deleted since.
    """
    origin = progress.origin
    if origin is None or await session.get(Workflow, uuid.UUID(origin.workflow_id)) is None:
        return None
    now = utcnow()
    run = Run(
        workflow_id=uuid.UUID(origin.workflow_id),
        owner_id=uuid.UUID(origin.owner_id),
        version=origin.version,
        trigger=origin.trigger,
        inputs=origin.inputs,
        temporal_workflow_id=progress.workflow_id,
        temporal_run_id=activity.info().workflow_run_id,
        status=progress.status,
        started_at=now,
    )
    if progress.finished:
        run.finished_at = now
        run.output = storable(progress.output)
        run.error = storable(progress.error)
    session.add(run)
    await session.flush()
    return run.id


async def _upsert_tasks(
    session: AsyncSession, run_id: uuid.UUID, nodes: list[NodeProgress]
) -> None:
    """Insert the nodes' task rows, or update the ones an earlier step created."""
    rows = [
        {"id": uuid.uuid4(), "run_id": run_id, "node_id": node.node_id, "type": node.type}
        | _task_values(node)
        for node in nodes
    ]
    await session.exec(_task_upsert(session.get_bind().dialect.name), params=rows)


@functools.cache
def _task_upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (run_id, node_id) DO UPDATE in the database's own dialect.

    Executed with a list of rows; the RETURNING clause is what makes SQLAlchemy send them as
    one multi-row statement ("insertmanyvalues") rather than a statement per row. Built once,
    so SQLAlchemy compiles it once.
    """
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TASKS)
    return insert.on_conflict_do_update(
        index_elements=[_TASKS.c.run_id, _TASKS.c.node_id],
        set_={field: insert.excluded[field] for field in _TASK_FIELDS},
    ).returning(_TASKS.c.id)


def _task_values(node: NodeProgress) -> dict[str, Any]:
    return {
        "status": node.status,
        "attempts": node.attempts,
        "input": storable(node.input),
        "output": storable(node.output),
        "error": storable(node.error),
        "started_at": _moment(node.started_at),
        "finished_at": _moment(node.finished_at),
    }


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
