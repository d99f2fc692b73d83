"""Clare's Law: applications to the Domestic Violence Disclosure Scheme and their steps

Revision ID: 0023
Revises: 0020
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.base import UTCDateTime

revision: str = "0023"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dvds_applications",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("area_id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=True),
        sa.Column(
            "route",
            sa.Enum(
                "right_to_ask", "right_to_know", name="dvdsroute", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("data_key_id", sa.String(length=32), nullable=True),
        sa.Column("applicant_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("subject_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["area_id"], ["areas.id"], name=op.f("fk_dvds_applications_area_id_areas")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_dvds_applications_case_id_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["data_key_id"],
            ["data_keys.id"],
            name=op.f("fk_dvds_applications_data_key_id_data_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dvds_applications")),
    )
    with op.batch_alter_table("dvds_applications", schema=None) as batch_op:
        batch_op.create_index("ix_dvds_applications_area", ["area_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_dvds_applications_case_id"), ["case_id"], unique=False)
    op.create_table(
        "dvds_steps",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("application_id", BIG_ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "received",
                "check_requested",
                "check_completed",
                "panel_set",
                "decided",
                "safety_plan",
                name="dvdsstepkind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("agency_id", BIG_ID, nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("panel_on", sa.Date(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("disclose", "not_disclose", name="dvdsdecision", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("safety_plan_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by_person_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["dvds_applications.id"],
            name=op.f("fk_dvds_steps_application_id_dvds_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"], ["agencies.id"], name=op.f("fk_dvds_steps_agency_id_agencies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dvds_steps")),
    )
    with op.batch_alter_table("dvds_steps", schema=None) as batch_op:
        batch_op.create_index("ix_dvds_steps_application", ["application_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dvds_steps", schema=None) as batch_op:
        batch_op.drop_index("ix_dvds_steps_application")
    op.drop_table("dvds_steps")
    with op.batch_alter_table("dvds_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dvds_applications_case_id"))
        batch_op.drop_index("ix_dvds_applications_area")
    op.drop_table("dvds_applications")
