"""Tables as they stood before migration 0014, for tests that fill a database at 0013 and
then upgrade it (0014 seals apology reasons and re-keys blind indexes)."""

from __future__ import annotations

import sqlalchemy as sa

from storage.base import UTCDateTime

AREAS = sa.table(
    "areas",
    sa.column("id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("code", sa.String),
    sa.column("timezone", sa.String),
    sa.column("created_at", UTCDateTime()),
)
DATA_KEYS = sa.table(
    "data_keys",
    sa.column("id", sa.String),
    sa.column("purpose", sa.String),
    sa.column("kek_id", sa.String),
    sa.column("wrapped", sa.LargeBinary),
    sa.column("created_at", UTCDateTime()),
)
