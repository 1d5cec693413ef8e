"""SQLite times as seconds since the epoch: an integer for a whole second (4 bytes in a record)
and a float otherwise, where the text 'YYYY-MM-DD HH:MM:SS.ffffff' took 26 bytes in every row
and in every key that holds a time (``collector.store.types.UTCDateTime``). Postgres is unchanged
(``timestamptz``, 8 bytes).

Every ``DATETIME`` column of every table is rewritten in place, in SQL; the downgrade writes the
text back. Both are idempotent: only values of the other kind are touched.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"

#: The stored text ('YYYY-MM-DD HH:MM:SS' and up to six digits of a fraction) as seconds: the
#: microseconds divided by a million once, as ``types.epoch_seconds`` does in Python, so that a
#: time bound by the product compares equal to the time converted here. A REAL that is a whole
#: number is stored as an INTEGER in a column of NUMERIC affinity (a ``DATETIME`` column). The
#: whole seconds come from the text without its fraction: SQLite's date functions count in
#: milliseconds, so strftime('%s') of '... 00:00:00.999500' says the next second.
_TO_SECONDS = (
    "(CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000"
    " + CAST(substr(substr({c}, 21) || '000000', 1, 6) AS INTEGER)) / 1000000.0"
)
#: Seconds back to the text SQLAlchemy writes (always six digits of a fraction).
_TO_TEXT = (
    "strftime('%Y-%m-%d %H:%M:%S', CAST({c} AS INTEGER), 'unixepoch') || '.' || "
    "printf('%06d', CAST(round(({c} - CAST({c} AS INTEGER)) * 1000000) AS INTEGER))"
)


def _time_columns(bind: sa.Connection) -> list[tuple[str, str]]:
    """(table, column) of every ``DATETIME`` column in the SQLite database."""
    tables = bind.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).scalars()
    found = []
    for table in list(tables):
        quoted = table.replace('"', '""')
        for column in bind.exec_driver_sql(f'PRAGMA table_info("{quoted}")').mappings():
            if str(column["type"]).upper() == "DATETIME":
                found.append((table, column["name"]))
    return found


def _rewrite(expression: str, kinds: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table, column in _time_columns(bind):
        c = '"' + column.replace('"', '""') + '"'
        t = '"' + table.replace('"', '""') + '"'
        bind.exec_driver_sql(
            f"UPDATE {t} SET {c} = {expression.format(c=c)} WHERE typeof({c}) IN ({kinds})"
        )


def upgrade() -> None:
    _rewrite(_TO_SECONDS, "'text'")


def downgrade() -> None:
    _rewrite(_TO_TEXT, "'integer', 'real'")
