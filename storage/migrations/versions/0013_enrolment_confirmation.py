"""who confirmed each enrolment, and outbox texts built when sent

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_by_id", sa.BigInteger(), nullable=True))
    # Everyone enrolled before confirmation existed keeps their access: confirmed as they
    # enrolled, by nobody.
    op.execute("UPDATE people SET confirmed_at = enrolled_at WHERE confirmed_at IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_from", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("text_from")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("confirmed_by_id")
        batch_op.drop_column("confirmed_at")
