"""seal the attendance apology reason

The reason an agency gives for its apologies was kept in plaintext
(``attendance_replies.reason``). It is now sealed with the meeting's data key, like the
meeting's location, in ``reason_sealed``; existing reasons are sealed here and the plaintext
column dropped. Sealing needs the keys: ``marac-bot migrate`` (and ``init``) hand them over
(storage.migration_keys), and only a database with reasons to seal asks for them.

Downgrading drops the sealed reasons (a downgrade never writes plaintext back).

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import migration_keys
from storage.crypto import FieldContext, seal

revision: str = "0014"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_replies = sa.table(
    "attendance_replies",
    sa.column("id", sa.BigInteger),
    sa.column("meeting_id", sa.BigInteger),
    sa.column("reason", sa.String),
    sa.column("reason_sealed", sa.LargeBinary),
)
_meetings = sa.table(
    "meetings",
    sa.column("id", sa.BigInteger),
    sa.column("data_key_id", sa.String),
)


def upgrade() -> None:
    connection = op.get_bind()
    # Everything that needs the keys, and so may fail, comes before the first change to the
    # schema: SQLite's driver runs ALTER TABLE outside a transaction.
    sealed = _sealed_apology_reasons(connection)
    with op.batch_alter_table("attendance_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_sealed", sa.LargeBinary(), nullable=True))
    for reply_id, value in sealed.items():
        connection.execute(
            _replies.update().where(_replies.c.id == reply_id).values(reason_sealed=value)
        )
    with op.batch_alter_table("attendance_replies", schema=None) as batch_op:
        batch_op.drop_column("reason")


def _sealed_apology_reasons(connection: sa.engine.Connection) -> dict[int, bytes]:
    """Each stored reason sealed with its meeting's data key (made if the meeting has none)."""
    rows = connection.execute(
        sa.select(_replies.c.id, _replies.c.meeting_id, _replies.c.reason, _meetings.c.data_key_id)
        .join(_meetings, _meetings.c.id == _replies.c.meeting_id)
        .where(_replies.c.reason.is_not(None), _replies.c.reason != "")
        .order_by(_replies.c.id)
    ).all()
    if not rows:
        return {}
    source = migration_keys.key_source("seals the reasons agencies gave for their apologies")
    keys: dict[int, bytes] = {}
    sealed: dict[int, bytes] = {}
    for reply_id, meeting_id, reason, data_key_id in rows:
        if meeting_id not in keys:
            data_key = (
                migration_keys.unwrap(connection, source, data_key_id) if data_key_id else None
            )
            if data_key is None:
                data_key_id, data_key = migration_keys.create(connection, source, "meeting")
                connection.execute(
                    _meetings.update()
                    .where(_meetings.c.id == meeting_id)
                    .values(data_key_id=data_key_id)
                )
            keys[meeting_id] = data_key
        sealed[int(reply_id)] = seal(
            keys[meeting_id], str(reason), FieldContext("attendance_replies", "reason", reply_id)
        )
    return sealed


def downgrade() -> None:
    with op.batch_alter_table("attendance_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=200), nullable=True))
        batch_op.drop_column("reason_sealed")
