"""payload_blobs: Temporal payloads too large for history, by the SHA-256 of their bytes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payload_blobs",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index(op.f("ix_payload_blobs_created_at"), "payload_blobs", ["created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payload_blobs_created_at"), table_name="payload_blobs")
    op.drop_table("payload_blobs")
