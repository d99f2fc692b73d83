"""how long invited agencies keep a listed case's identifiers, per area

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("area_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("research_open_days_after", sa.Integer(), nullable=False, server_default="5")
        )


def downgrade() -> None:
    with op.batch_alter_table("area_policies", schema=None) as batch_op:
        batch_op.drop_column("research_open_days_after")
