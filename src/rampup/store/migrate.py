"""Apply Alembic migrations programmatically; safe when several processes start at once."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from rampup.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_ID = 0x72616D70  # "ramp"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Serialised with a lock so replicas can race."""
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_ID})
            elif conn.dialect.name == "sqlite":
                # pysqlite runs DDL outside a transaction, so two processes could both
                # see an empty file and both create tables. Take the write lock first
                # (waiting up to busy_timeout); the loser then finds the schema at head.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except sa.exc.OperationalError as exc:
        # Two SQLite processes may race to create the tables; the loser finds them made.
        try:
            if revision == "head" and current_revision(engine) == head_revision():
                return
        except sa.exc.SQLAlchemyError:
            pass
        raise StoreError(
            f"cannot migrate the store at {engine.url!r}: {exc.orig}",
            fix="check RAMPUP_DATABASE_URL and that the database is reachable") from None


def downgrade(engine: sa.Engine, revision: str) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
