"""the victim's voice: engagement and views recorded by the allocated IDVA, and whether the
victim was told the outcome of the meeting

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "victim_voice_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column(
            "engagement",
            sa.Enum(
                "engaging",
                "partly_engaging",
                "not_engaging",
                name="engagement",
                native_enum=False,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("views_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_victim_voice_entries_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_victim_voice_entries")),
    )
    with op.batch_alter_table("victim_voice_entries", schema=None) as batch_op:
        batch_op.create_index("ix_victim_voice_entries_case", ["case_id", "id"], unique=False)
    op.create_table(
        "victim_outcome_replies",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("meeting_id", BIG_ID, nullable=False),
        sa.Column(
            "outcome",
            sa.Enum("told", "could_not_tell", name="outcometold", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by_person_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_victim_outcome_replies_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_victim_outcome_replies_meeting_id_meetings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_victim_outcome_replies")),
    )
    with op.batch_alter_table("victim_outcome_replies", schema=None) as batch_op:
        batch_op.create_index(
            "ix_victim_outcome_replies_case", ["case_id", "meeting_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("victim_outcome_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_victim_outcome_replies_case")
    op.drop_table("victim_outcome_replies")
    with op.batch_alter_table("victim_voice_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_victim_voice_entries_case")
    op.drop_table("victim_voice_entries")
