"""DASH assessments: the referral's checklist and each reassessment, with date, who, form, score

Revision ID: 0020
Revises: 0021
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0020"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dash_assessments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assessed_at", UTCDateTime(), nullable=False),
        sa.Column("by_person_id", sa.BigInteger(), nullable=True),
        sa.Column("form", sa.String(length=16), nullable=False),
        sa.Column("dash_yes", sa.Integer(), nullable=True),
        sa.Column("dash_not_known", sa.Integer(), nullable=True),
        sa.Column("dara_level", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_dash_assessments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dash_assessments")),
    )
    with op.batch_alter_table("dash_assessments", schema=None) as batch_op:
        batch_op.create_index("ix_dash_assessments_case", ["case_id", "id"], unique=False)
    # Every case referred so far: its referral's checklist is its first assessment. Cases
    # before the form was asked were all entered as the SafeLives 24.
    op.execute(
        "INSERT INTO dash_assessments "
        "(case_id, assessed_at, by_person_id, form, dash_yes, dash_not_known, dara_level) "
        "SELECT id, referred_at, referred_by_id, 'safelives', dash_yes, dash_not_known, NULL "
        "FROM cases ORDER BY id"
    )


def downgrade() -> None:
    with op.batch_alter_table("dash_assessments", schema=None) as batch_op:
        batch_op.drop_index("ix_dash_assessments_case")
    op.drop_table("dash_assessments")
