"""What crosses the line between the interpreter and the activities.

`DagWorkflow` schedules every I/O node as an activity named after the node's `type`, with
one `NodeInput` in and one `NodeResult` out. New fields must have defaults, so that
histories of runs in flight keep deserialising.
"""

from typing import Any

from pydantic import BaseModel


class NodeInput(BaseModel):
    run_id: str
    node_id: str
    type: str
    params: dict[str, Any]
    """The node's params, already rendered and validated against its type's schema."""
    credential: str | None = None
    """The name of a stored credential; the activity resolves it, the workflow never sees it."""
    owner_id: str | None = None
    """The run's owner, whose credentials `credential` names."""
    idempotency_key: str
    """`run id:node id`, stable across retries, to hand to services that dedupe requests."""


class NodeResult(BaseModel):
    output: Any = None
    attempt: int = 1


class NodeProgress(BaseModel):
    node_id: str
    type: str
    status: str
    attempts: int = 0
    input: Any = None
    output: Any = None
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


class RunOrigin(BaseModel):
    """Which saved workflow a run belongs to, for runs the API did not start (schedules),
    whose database row the first recording creates."""

    workflow_id: str
    owner_id: str
    version: int
    trigger: str = "schedule"
    inputs: dict[str, Any] = {}


class RunProgress(BaseModel):
    """What changed in a run since it was last recorded: sent to `flowpilot.record_progress`."""

    workflow_id: str
    status: str
    nodes: list[NodeProgress] = []
    output: Any = None
    error: str | None = None
    finished: bool = False
    origin: RunOrigin | None = None


RECORD_PROGRESS = "flowpilot.record_progress"


class WorkflowLookup(BaseModel):
    owner_id: str
    workflow: str
    """An id or a name."""


class SavedWorkflow(BaseModel):
    workflow_id: str
    version: int
    definition: dict[str, Any]


LOAD_WORKFLOW = "flowpilot.load_workflow"


FAILED_ON_ATTEMPT = "flowpilot_failed_on_attempt"
"""Key of the detail a non-retryable activity failure carries: the attempt it happened on,
which Temporal's ActivityError does not tell the workflow."""
