"""The database tables (DESIGN.md §8). Schema changes go through Alembic (core/migrations)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


class Timestamp(sa.TypeDecorator[datetime]):
    """A UTC timestamp that comes back timezone-aware from every database.

    PostgreSQL keeps the zone; SQLite stores text without it, so values are stored in UTC
    and the zone is put back on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(JSONType, nullable=nullable))


def _time(nullable: bool = True, default: bool = False) -> Any:
    if default:
        return Field(default_factory=utcnow, sa_column=sa.Column(Timestamp(), nullable=False))
    return Field(default=None, sa_column=sa.Column(Timestamp(), nullable=nullable))


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=320, unique=True, index=True)
    password_hash: str
    role: str = Field(default="editor", max_length=16)
    full_name: str = Field(default="", max_length=200)
    is_active: bool = True
    founder: bool | None = Field(default=None, unique=True, index=True)
    """True for the instance's first account (its first admin), else NULL. Being unique, it
    lets only one of several simultaneous first registrations become that admin."""
    created_at: datetime = _time(default=True)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = _time(default=True)
    last_used_at: datetime | None = _time()


class Workflow(SQLModel, table=True):
    __tablename__ = "workflows"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=200)
    description: str = ""
    current_version: int = 1
    trigger_type: str = Field(default="manual", max_length=16)
    webhook_token: str | None = Field(default=None, max_length=64, unique=True)
    paused: bool = False
    created_at: datetime = _time(default=True)
    updated_at: datetime = _time(default=True)


class WorkflowVersion(SQLModel, table=True):
    __tablename__ = "workflow_versions"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", index=True, ondelete="CASCADE")
    version: int
    definition: dict[str, Any] = _json(nullable=False)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="users.id", ondelete="SET NULL")
    created_at: datetime = _time(default=True)


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (sa.Index("ix_runs_owner_created", "owner_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    workflow_id: uuid.UUID = Field(foreign_key="workflows.id", index=True, ondelete="CASCADE")
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    version: int
    status: str = Field(default="pending", max_length=16, index=True)
    trigger: str = Field(default="manual", max_length=16)
    inputs: dict[str, Any] | None = _json()
    output: Any = _json()
    error: str | None = None
    temporal_workflow_id: str = Field(max_length=200, unique=True)
    temporal_run_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = _time(default=True)
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()


class Task(SQLModel, table=True):
    """One node of one run: what it received, what it produced, how it went."""

    __tablename__ = "tasks"
    __table_args__ = (sa.UniqueConstraint("run_id", "node_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    run_id: uuid.UUID = Field(foreign_key="runs.id", index=True, ondelete="CASCADE")
    node_id: str = Field(max_length=64)
    type: str = Field(max_length=64)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    input: Any = _json()
    output: Any = _json()
    error: str | None = None
    started_at: datetime | None = _time()
    finished_at: datetime | None = _time()


class Credential(SQLModel, table=True):
    __tablename__ = "credentials"
    __table_args__ = (sa.UniqueConstraint("owner_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=100)
    kind: str = Field(max_length=64)
    ciphertext: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = _time(default=True)
    last_used_at: datetime | None = _time()


class AuditLog(SQLModel, table=True):
    __tablename__ = "audit_logs"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    actor_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    ip: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] | None = _json()
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(Timestamp(), nullable=False, index=True)
    )


class PayloadBlob(SQLModel, table=True):
    """A Temporal payload too large to keep in history (see core/payload_store.py), under
    the SHA-256 of its bytes: the same payload is stored once, whoever stores it."""

    __tablename__ = "payload_blobs"

    key: str = Field(primary_key=True, max_length=64)
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    size: int
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=sa.Column(Timestamp(), nullable=False, index=True)
    )
