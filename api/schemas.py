"""Request and response models of the HTTP API (DESIGN.md §7)."""

import uuid
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from workflows.definition import RunPriority
from workflows.node_type import NodeType

Role = Literal["admin", "editor", "viewer"]
T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class RegisterRequest(Strict):
    email: EmailStr
    password: str = Field(min_length=8, max_length=256)
    full_name: str = Field(default="", max_length=200)


class LoginRequest(Strict):
    email: EmailStr
    password: str = Field(max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserPublic(BaseModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime


class UserUpdate(Strict):
    role: Role | None = None
    is_active: bool | None = None


class WorkflowWrite(Strict):
    definition: dict[str, Any]


class ValidateRequest(Strict):
    definition: Any


class ValidationIssue(BaseModel):
    node: str | None
    field: str
    message: str


class FieldProblem(BaseModel):
    """A request that does not fit its schema: where and what, never the value sent."""

    loc: list[str | int]
    msg: str
    type: str


class GenerationFailure(BaseModel):
    """The model gave no valid workflow within the repair rounds: its last problems."""

    message: str
    errors: list[str]


class UnprocessableAnswer(BaseModel):
    """Every 422 of the API: a field of the request, a problem of a definition (its node and
    field), a generation the model could not get right, or a value the database cannot store."""

    detail: list[FieldProblem | ValidationIssue] | GenerationFailure | str


class ErrorAnswer(BaseModel):
    """A refusal that is not about a field: a body too large, a service unavailable."""

    detail: str


class ValidateResponse(BaseModel):
    valid: bool
    errors: list[ValidationIssue]


class WorkflowPublic(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    version: int
    definition: dict[str, Any]
    trigger: dict[str, Any]
    webhook_url: str | None
    paused: bool
    owner_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class WorkflowVersionPublic(BaseModel):
    version: int
    definition: dict[str, Any]
    created_at: datetime
    created_by: uuid.UUID | None


class NodeTypePublic(BaseModel):
    type: str
    title: str
    description: str
    runs_in: str
    credential_kinds: list[str] = Field(description="Credential kinds its nodes can name.")
    credential_required: bool
    output_description: str
    params_schema: dict[str, Any]
    sample_output: Any = Field(
        description="A realistic output of the real shape: what a dry run gives a node of "
        "this type unless it is pinned (null for types a dry run runs as they are)."
    )

    @classmethod
    def of(cls, entry: NodeType) -> "NodeTypePublic":
        return cls(
            type=entry.type,
            title=entry.title,
            description=entry.description,
            runs_in=entry.runs_in,
            credential_kinds=list(entry.credential_kinds),
            credential_required=entry.credential_required,
            output_description=entry.output_description,
            params_schema=entry.params_schema(),
            sample_output=entry.sample_output,
        )


RunStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "cancelled"]


class RunStart(Strict):
    inputs: dict[str, Any] = Field(default_factory=dict)
    priority: RunPriority | None = Field(
        default=None,
        description="This run's priority; unset: the workflow's `defaults.priority`.",
    )


class TaskPublic(BaseModel):
    node_id: str
    type: str
    status: str
    attempts: int
    input: Any
    output: Any
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None


class RunPublic(BaseModel):
    id: uuid.UUID
    workflow_id: uuid.UUID
    version: int
    status: RunStatus
    trigger: str
    inputs: dict[str, Any] | None
    output: Any
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    temporal_url: str
    nodes: list[TaskPublic] = Field(default_factory=list)


class ApprovalRequest(Strict):
    node_id: str = Field(max_length=64)
    approved: bool
    comment: str = Field(default="", max_length=2000)


class CredentialCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(description="The secret fields of that kind; write-only.")


class CredentialPublic(BaseModel):
    """A credential as the API shows it: never its data."""

    id: uuid.UUID
    name: str
    kind: str
    owner_id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None


class CredentialTestResult(BaseModel):
    ok: bool
    live: bool = Field(description="Whether the credential's service was contacted.")
    message: str


class ScheduleInfo(BaseModel):
    schedule_id: str
    paused: bool
    next_fire_times: list[datetime]


class RetryRequest(Strict):
    latest: bool = Field(
        default=False, description="Run the workflow's latest version instead of the pinned one."
    )
    params: dict[str, Any] | None = Field(
        default=None, description="New params for the node that failed."
    )


class ApiKeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str
    """Shown once."""


class AuditLogPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    actor_id: uuid.UUID | None
    action: str
    target: str
    ip: str | None
    details: dict[str, Any] | None
    created_at: datetime


class NodeTestRequest(Strict):
    node: dict[str, Any] = Field(description="The node as it stands in the editor.")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Sample run inputs.")
    upstream: dict[str, Any] = Field(
        default_factory=dict, description="Sample outputs of upstream nodes, by node id."
    )
    timeout_seconds: float = Field(default=60, gt=0, le=300)


class NodeTestResult(BaseModel):
    status: str
    input: Any = None
    output: Any = None
    error: str | None = None
    attempts: int = 0
