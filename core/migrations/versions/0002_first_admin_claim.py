"""users.founder: one first admin, even when two accounts register at once

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("founder", sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_founder"), ["founder"], unique=True)
    # An existing instance's oldest admin is its founder.
    op.execute(
        "UPDATE users SET founder = TRUE WHERE id = ("
        "SELECT id FROM users WHERE role = 'admin' ORDER BY created_at LIMIT 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_founder"))
        batch_op.drop_column("founder")
