"""area closure days; a series' rule for non-working days; a meeting's series date

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "area_closures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("area_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=80), nullable=True),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("added_by_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name="fk_area_closures_area_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_area_closures"),
        sa.UniqueConstraint("area_id", "day", name="uq_area_closures_area_day"),
    )
    with op.batch_alter_table("meeting_series", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("off_day_rule", sa.String(length=8), server_default="before", nullable=False)
        )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_day", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("series_day")
    with op.batch_alter_table("meeting_series", schema=None) as batch_op:
        batch_op.drop_column("off_day_rule")
    op.drop_table("area_closures")
