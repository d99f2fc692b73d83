"""the IDVA's attempts to contact the victim, each a row with its outcome

Revision ID: 0017
Revises: 0019
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "victim_contacts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "contacted",
                "not_reached",
                "declined_support",
                name="contactoutcome",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_victim_contacts_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_victim_contacts_person_id_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_victim_contacts")),
    )
    with op.batch_alter_table("victim_contacts", schema=None) as batch_op:
        batch_op.create_index("ix_victim_contacts_case", ["case_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("victim_contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_victim_contacts_case")
    op.drop_table("victim_contacts")
