"""seal the attendance apology reason; blind indexes keyed per area

1. The reason an agency gives for its apologies was kept in plaintext
   (``attendance_replies.reason``). It is now sealed with the meeting's data key, like the
   meeting's location, in ``reason_sealed``; existing reasons are sealed here and the
   plaintext column dropped.
2. The victim and person-causing-harm blind indexes (``cases.victim_index``,
   ``perpetrator_index``) were one HMAC for the whole deployment, so the same victim had the
   same value in every area. They are now keyed per area (storage.crypto.area_blind_index);
   every case's indexes are recomputed here from its sealed identifiers. A case whose data
   key is gone (it cannot be opened, so nothing can be matched on it anyway) gets a random
   value that matches nothing, rather than keeping a value that links it across areas.

Both need the keys: ``marac-bot migrate`` (and ``init``) hand them over
(storage.migration_keys); a database with no reason and no case does not ask for them.
Everything that needs them runs before the first schema change.

Downgrading drops the sealed reasons (a downgrade never writes plaintext back) and leaves the
indexes per area (the old ones cannot be made without opening every case again).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 01:30:00
"""

import json
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage import migration_keys
from storage.crypto import FieldContext, open_sealed, seal

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_replies = sa.table(
    "attendance_replies",
    sa.column("id", sa.BigInteger),
    sa.column("meeting_id", sa.BigInteger),
    sa.column("reason", sa.String),
    sa.column("reason_sealed", sa.LargeBinary),
)
_cases = sa.table(
    "cases",
    sa.column("id", sa.BigInteger),
    sa.column("area_id", sa.BigInteger),
    sa.column("data_key_id", sa.String),
    sa.column("victim_index", sa.String),
    sa.column("perpetrator_index", sa.String),
    sa.column("victim_sealed", sa.LargeBinary),
    sa.column("perpetrator_sealed", sa.LargeBinary),
)
_BATCH = 1000
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
    indexes = _indexes_per_area(connection)
    for start in range(0, len(indexes), _BATCH):
        connection.execute(
            _cases.update()
            .where(_cases.c.id == sa.bindparam("case_id"))
            .values(
                victim_index=sa.bindparam("victim"), perpetrator_index=sa.bindparam("perpetrator")
            ),
            indexes[start : start + _BATCH],
        )
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


def _indexes_per_area(connection: sa.engine.Connection) -> list[dict[str, object]]:
    """Every case's victim and person-causing-harm index under its area's own key, computed
    from the identifiers sealed in the case exactly as the referral service computes them."""
    rows = connection.execute(
        sa.select(
            _cases.c.id,
            _cases.c.area_id,
            _cases.c.data_key_id,
            _cases.c.victim_sealed,
            _cases.c.perpetrator_sealed,
        ).order_by(_cases.c.id)
    ).all()
    if not rows:
        return []
    source = migration_keys.key_source("re-keys the repeat-victim index per area")
    updates: list[dict[str, object]] = []
    for case_id, area_id, data_key_id, victim_sealed, perpetrator_sealed in rows:
        data_key = migration_keys.unwrap(connection, source, data_key_id) if data_key_id else None
        if data_key is None or victim_sealed is None:
            updates.append(
                {"case_id": case_id, "victim": secrets.token_hex(32), "perpetrator": None}
            )
            continue
        victim = json.loads(
            open_sealed(
                data_key, bytes(victim_sealed), FieldContext("cases", "victim_sealed", case_id)
            )
        )
        perpetrator = (
            json.loads(
                open_sealed(
                    data_key,
                    bytes(perpetrator_sealed),
                    FieldContext("cases", "perpetrator_sealed", case_id),
                )
            )
            if perpetrator_sealed is not None
            else {}
        )
        area = int(area_id)
        updates.append(
            {
                "case_id": case_id,
                "victim": source.blind_index(
                    "victim", str(victim["name"]), str(victim["dob"]), area_id=area
                ),
                "perpetrator": (
                    source.blind_index(
                        "perpetrator",
                        str(perpetrator["name"]),
                        str(perpetrator.get("dob") or ""),
                        area_id=area,
                    )
                    if perpetrator.get("name")
                    else None
                ),
            }
        )
    return updates


def downgrade() -> None:
    with op.batch_alter_table("attendance_replies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=200), nullable=True))
        batch_op.drop_column("reason_sealed")
