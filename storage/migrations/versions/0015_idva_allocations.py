"""a named IDVA allocated to each case, every allocation kept

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idva_allocations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("allocated_at", UTCDateTime(), nullable=False),
        sa.Column("allocated_by_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_idva_allocations_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_idva_allocations_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idva_allocations")),
    )
    with op.batch_alter_table("idva_allocations", schema=None) as batch_op:
        batch_op.create_index("ix_idva_allocations_case", ["case_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idva_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_idva_allocations_case")
    op.drop_table("idva_allocations")
