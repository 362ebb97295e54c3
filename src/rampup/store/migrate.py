"""Apply Alembic migrations programmatically; safe when several processes start at once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from rampup.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_ID = 0x72616D70  # "ramp"
_REVISION = re.compile(r"""^revision\b[^=]*=\s*["']([^"']+)["']""", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=]*=(.*)$", re.M)


def alembic_config() -> Config:
    from alembic.config import Config  # start-up time: alembic only when migrating

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Serialised with a lock so replicas can race."""
    if revision == "head" and at_head(engine):
        return  # nothing to do, and no need to load alembic (a third of a CLI command's start)
    from alembic import command

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


def script_heads() -> set[str]:
    """The revisions no migration file names as its parent, read from the files' text
    (what alembic's ``ScriptDirectory`` computes, without importing alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN_REVISION.search(text)
        if rev is None or down is None:
            return set()  # a file this reader does not understand: let alembic decide
        revisions.add(rev[1])
        parents.update(re.findall(r"""["']([^"']+)["']""", down[1]))
    return revisions - parents


def at_head(engine: sa.Engine) -> bool:
    """True when the store's ``alembic_version`` holds exactly the one head revision."""
    heads = script_heads()
    if len(heads) != 1:
        return False
    try:
        with engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            return set(stored) == heads
    except sa.exc.SQLAlchemyError:
        return False  # no table yet (a new store) or unreachable: the full upgrade reports it


def downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
