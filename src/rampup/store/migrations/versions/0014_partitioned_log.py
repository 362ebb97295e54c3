"""The prediction log partitioned by time on PostgreSQL; feedback unique per prediction.

PostgreSQL: ``predictions`` becomes a table partitioned by range of ``id`` and
``feedback`` one partitioned by range of ``prediction_id`` (both ids start with their
millisecond, so a range of ids is a range of time), each with a default partition. The
rows move over: a partition per day that holds rows, the current day and a few ahead,
the rest in the default partition.

A partitioned table's primary key and unique constraints must contain the partition key:

- predictions: the partition key *is* the id, so the id stays the whole primary key and
  the log writer's ``ON CONFLICT (id)`` is unchanged.
- feedback: partitioned by the prediction it is about, not by its own time. Partitioning
  by ``ts`` would have to make the dedupe key unique per ``(dedupe_key, ts)``, and a retry
  of the same feedback a second later would then be stored twice. A dedupe key is a hash
  *of* the prediction id and the content (``predlog/feedback.py``, the review queue's
  ``review:<id>``), so "unique per (prediction_id, dedupe_key)" keeps exactly the old
  behaviour. Both stores declare that constraint (SQLite's table is rebuilt once), so the
  ``ON CONFLICT`` target and the contract are the same on both. The primary key on
  PostgreSQL becomes ``(id, prediction_id)``; ``id`` still comes from its sequence.

The partition key columns are ``COLLATE "C"`` on PostgreSQL: a range of hex ids must be
compared byte by byte whatever the database's collation (equality, all the joins do, is
the same under every deterministic collation).

SQLite: only the feedback constraint changes.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from alembic import op

from rampup.store import partitions as parts

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_PREDICTION_INDEXES = {"ix_predictions_model_ts": ["model", "ts"],
                       "ix_predictions_request_id": ["request_id"],
                       "ix_predictions_request_key": ["request_key"],
                       "ix_predictions_ts": ["ts"]}
_FEEDBACK_INDEXES = {"ix_feedback_prediction_id": ["prediction_id"],
                     "ix_feedback_model_ts": ["model", "ts"],
                     "ix_feedback_ts": ["ts"]}


def _id(collate: bool) -> sa.String:
    return sa.String(64, collation="C") if collate else sa.String(64)


def _prediction_columns(collate: bool) -> list[sa.Column[Any]]:
    return [
        sa.Column("id", _id(collate), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("version", sa.String(63), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(63), nullable=True),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("outputs", sa.Text, nullable=True),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("request_key", sa.String(255), nullable=True),
    ]


def _feedback_columns(collate: bool, *, serial: bool) -> list[sa.Column[Any]]:
    ident = (sa.Column("id", sa.Integer, primary_key=True, autoincrement=True) if serial else
             sa.Column("id", sa.Integer, nullable=False,
                       server_default=sa.text("nextval('feedback_id_seq'::regclass)")))
    return [
        ident,
        sa.Column("prediction_id", _id(collate), nullable=False),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("dedupe_key", sa.String(64), nullable=False),
    ]


def _names(columns: list[sa.Column[Any]]) -> str:
    return ", ".join(c.name for c in columns)


def _indexes(table: str, indexes: dict[str, list[str]]) -> None:
    for name, cols in indexes.items():
        op.create_index(name, table, cols)


def _set_aside(table: str, indexes: dict[str, list[str]], constraints: list[str]) -> str:
    """Rename the table out of the way; free its index and constraint names."""
    old = f"{table}_0013"
    for name in indexes:
        op.drop_index(name, table)
    for name in constraints:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} RENAME TO {old}")
    op.execute(f"ALTER INDEX {table}_pkey RENAME TO {old}_pkey")
    return old


def _partition(table: str, old: str, columns: str, now: float) -> None:
    conn = op.get_bind()
    parts.create_default(conn, table)
    ranges = parts.intervals_with_rows(conn, old, parts.TABLES[table], parts.DAY_S, now)
    ranges += parts.wanted(now, parts.DAY_S, parts.AHEAD, ranges)
    parts.ensure(conn, table, ranges)
    op.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
    op.execute(f"DROP TABLE {old}")


def _upgrade_postgresql() -> None:
    now = time.time()
    old = _set_aside("predictions", _PREDICTION_INDEXES, [])
    pcols = _prediction_columns(True)
    op.create_table("predictions", *pcols,
                    sa.PrimaryKeyConstraint("id", name="predictions_pkey"),
                    postgresql_partition_by="RANGE (id)")
    _partition("predictions", old, _names(pcols), now)
    _indexes("predictions", _PREDICTION_INDEXES)

    old = _set_aside("feedback", _FEEDBACK_INDEXES, ["feedback_dedupe_key_key"])
    fcols = _feedback_columns(True, serial=False)
    op.create_table("feedback", *fcols,
                    sa.PrimaryKeyConstraint("id", "prediction_id", name="feedback_pkey"),
                    sa.UniqueConstraint("prediction_id", "dedupe_key",
                                        name="uq_feedback_prediction_dedupe"),
                    postgresql_partition_by="RANGE (prediction_id)")
    op.execute("ALTER SEQUENCE feedback_id_seq OWNED BY feedback.id")
    _partition("feedback", old, _names(fcols), now)
    _indexes("feedback", _FEEDBACK_INDEXES)


def _rebuild_feedback(unique: sa.UniqueConstraint, select: str) -> None:
    """SQLite: a constraint changes only by copying the table."""
    cols = _feedback_columns(False, serial=True)
    for name in _FEEDBACK_INDEXES:
        op.drop_index(name, "feedback")
    op.rename_table("feedback", "feedback_0013")
    op.create_table("feedback", *cols, unique)
    names = _names(cols)
    op.execute(f"INSERT INTO feedback ({names}) SELECT {names} FROM feedback_0013 {select}")
    op.drop_table("feedback_0013")
    _indexes("feedback", _FEEDBACK_INDEXES)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _rebuild_feedback(sa.UniqueConstraint("prediction_id", "dedupe_key",
                                              name="uq_feedback_prediction_dedupe"), "")


# one row per dedupe key (the first) where two predictions shared one
_FIRST_OF_KEY = "WHERE id IN (SELECT min(id) FROM feedback_0013 GROUP BY dedupe_key)"


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        _rebuild_feedback(sa.UniqueConstraint("dedupe_key"), _FIRST_OF_KEY)
        return
    for table, indexes in (("predictions", _PREDICTION_INDEXES),
                           ("feedback", _FEEDBACK_INDEXES)):
        for name in indexes:
            op.drop_index(name, table)
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_0013")
        op.execute(f"ALTER INDEX {table}_pkey RENAME TO {table}_0013_pkey")
    op.execute("ALTER TABLE feedback_0013 DROP CONSTRAINT uq_feedback_prediction_dedupe")

    pcols = _prediction_columns(False)
    op.create_table("predictions", *pcols, sa.PrimaryKeyConstraint("id", name="predictions_pkey"))
    names = _names(pcols)
    op.execute(f"INSERT INTO predictions ({names}) SELECT {names} FROM predictions_0013")
    op.execute("DROP TABLE predictions_0013")  # and its partitions
    _indexes("predictions", _PREDICTION_INDEXES)

    fcols = _feedback_columns(False, serial=False)
    op.create_table("feedback", *fcols, sa.PrimaryKeyConstraint("id", name="feedback_pkey"),
                    sa.UniqueConstraint("dedupe_key", name="feedback_dedupe_key_key"))
    op.execute("ALTER SEQUENCE feedback_id_seq OWNED BY feedback.id")
    names = _names(fcols)
    op.execute(f"INSERT INTO feedback ({names}) SELECT {names} FROM feedback_0013 {_FIRST_OF_KEY}")
    op.execute("DROP TABLE feedback_0013")
    _indexes("feedback", _FEEDBACK_INDEXES)
