"""perpetrator-service work: the planned first-contact date and the coded end reason per step

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("perpetrator_steps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("end_reason", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("perpetrator_steps", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_column("planned_on")
