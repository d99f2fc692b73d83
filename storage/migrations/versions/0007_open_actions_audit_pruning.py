"""open actions by index, audit trail by subject, audit pruning checkpoint

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_state", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_actions_agency_open", ["agency_id", "closed_at", "due_on"], unique=False
        )
        batch_op.drop_index("ix_actions_agency_due")
        batch_op.create_index(
            "ix_actions_agency_due",
            ["agency_id", "due_on", "sent_at", "closed_state"],
            unique=False,
        )
    # The projection starts true: an action is closed by its final step (there is only one:
    # nothing follows done or not possible), at that step's time.
    op.execute(
        "UPDATE actions SET closed_at = (SELECT min(s.at) FROM action_steps s"
        " WHERE s.action_id = actions.id AND s.state IN ('done', 'not_possible')),"
        " closed_state = (SELECT min(s.state) FROM action_steps s"
        " WHERE s.action_id = actions.id AND s.state IN ('done', 'not_possible'))"
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_subject", ["area_id", "subject", "seq"], unique=False
        )
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pruned_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("pruned_hash", sa.String(length=64), server_default="0" * 64, nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("pruned_hash")
        batch_op.drop_column("pruned_seq")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_subject")
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_agency_open")
        batch_op.drop_index("ix_actions_agency_due")
        batch_op.create_index("ix_actions_agency_due", ["agency_id", "due_on"], unique=False)
        batch_op.drop_column("closed_state")
        batch_op.drop_column("closed_at")
