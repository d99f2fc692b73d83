"""messages people type are deleted once stored; calendar files without a location by default

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sensitive_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("typed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("failed_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("area_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("calendar_location", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("area_policies", schema=None) as batch_op:
        batch_op.drop_column("calendar_location")
    with op.batch_alter_table("sensitive_messages", schema=None) as batch_op:
        batch_op.drop_column("failed_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("typed")
