"""MARAC-to-MARAC transfers: each request and decision with who and when, and the sending
IDVA's sealed handover note

Revision ID: 0022
Revises: 0023
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_transfers",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("from_area_id", BIG_ID, nullable=False),
        sa.Column("to_area_id", BIG_ID, nullable=False),
        sa.Column("victim_index", sa.String(length=64), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=False),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("new_case_id", sa.BigInteger(), nullable=True),
        sa.Column("pack_sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_transfers_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_area_id"], ["areas.id"], name=op.f("fk_case_transfers_from_area_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["to_area_id"], ["areas.id"], name=op.f("fk_case_transfers_to_area_id_areas")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_transfers")),
    )
    with op.batch_alter_table("case_transfers", schema=None) as batch_op:
        batch_op.create_index("ix_case_transfers_case", ["case_id", "id"], unique=False)
        batch_op.create_index(
            "ix_case_transfers_to_victim", ["to_area_id", "victim_index"], unique=False
        )
    op.create_table(
        "handover_notes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("from_case_id", sa.BigInteger(), nullable=False),
        sa.Column("written_at", UTCDateTime(), nullable=False),
        sa.Column("written_by_id", sa.BigInteger(), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_handover_notes_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_notes")),
    )
    with op.batch_alter_table("handover_notes", schema=None) as batch_op:
        batch_op.create_index("ix_handover_notes_case", ["case_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handover_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_handover_notes_case")
    op.drop_table("handover_notes")
    with op.batch_alter_table("case_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_case_transfers_to_victim")
        batch_op.drop_index("ix_case_transfers_case")
    op.drop_table("case_transfers")
