"""Loading a saved workflow for a `subworkflow` node: the owner's, by id or by name."""

import uuid

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.models import Workflow, WorkflowVersion
from workflows.contract import LOAD_WORKFLOW, SavedWorkflow, WorkflowLookup


class SavedWorkflows:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=LOAD_WORKFLOW)
    async def load(self, lookup: WorkflowLookup) -> SavedWorkflow:
        """The current version of the owner's workflow named (or identified) by `lookup`."""
        owner = uuid.UUID(lookup.owner_id)
        async with self._sessions() as session:
            query = select(Workflow).where(Workflow.owner_id == owner)
            try:
                query = query.where(Workflow.id == uuid.UUID(lookup.workflow))
            except ValueError:
                query = query.where(Workflow.name == lookup.workflow)
            found = (await session.exec(query.order_by(col(Workflow.created_at)))).first()
            if found is None:
                raise ApplicationError(
                    f"no workflow '{lookup.workflow}' among the run owner's workflows",
                    type="SubworkflowNotFound",
                    non_retryable=True,
                )
            version = (
                await session.exec(
                    select(WorkflowVersion).where(
                        WorkflowVersion.workflow_id == found.id,
                        WorkflowVersion.version == found.current_version,
                    )
                )
            ).one()
            return SavedWorkflow(
                workflow_id=str(found.id), version=version.version, definition=version.definition
            )
