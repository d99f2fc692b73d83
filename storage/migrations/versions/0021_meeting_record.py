"""the meeting's record: risk summaries per case, the confidentiality agreement, minutes sent

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0021"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_risk_summaries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("meeting_id", _ID, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("summary_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_case_risk_summaries_meeting_id_meetings")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_risk_summaries_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_risk_summaries")),
    )
    with op.batch_alter_table("case_risk_summaries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_risk_summaries_meeting", ["meeting_id", "case_id", "id"], unique=False
        )
    op.create_table(
        "meeting_confidentiality",
        sa.Column("id", _ID, nullable=False),
        sa.Column("meeting_id", _ID, nullable=False),
        sa.Column("agreed_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_confidentiality_meeting_id_meetings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_confidentiality")),
    )
    with op.batch_alter_table("meeting_confidentiality", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_confidentiality_meeting", ["meeting_id"], unique=False)
    op.create_table(
        "minutes_sent",
        sa.Column("id", _ID, nullable=False),
        sa.Column("meeting_id", _ID, nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("sent_by_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"], ["meetings.id"], name=op.f("fk_minutes_sent_meeting_id_meetings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minutes_sent")),
    )
    with op.batch_alter_table("minutes_sent", schema=None) as batch_op:
        batch_op.create_index("ix_minutes_sent_meeting", ["meeting_id"], unique=False)


def downgrade() -> None:
    for table, index in (
        ("minutes_sent", "ix_minutes_sent_meeting"),
        ("meeting_confidentiality", "ix_meeting_confidentiality_meeting"),
        ("case_risk_summaries", "ix_case_risk_summaries_meeting"),
    ):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
        op.drop_table(table)
