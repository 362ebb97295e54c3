"""Migrations: they create exactly schema.py, run twice harmlessly, go down and up again,
and survive two processes migrating one fresh database at once."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from rampup.store import Database
from rampup.store import partitions as parts
from rampup.store import schema as t
from rampup.store.migrate import current_revision, downgrade, head_revision, upgrade

TABLES = {"models", "versions", "deployments", "predictions", "feedback", "events",
          "evaluations", "rollouts", "rollout_checks", "metric_windows",
          "alert_rules", "alert_states", "alert_events",
          "review_items", "review_labels", "automation_levels", "retrain_runs",
          "dead_letters", "tokens", "secrets"}


def partition_tables(engine: sa.Engine) -> set[str]:
    """The partitions of the prediction log (PostgreSQL): made at run time, not declared."""
    with engine.connect() as conn:
        return {p.name for table in parts.TABLES for p in parts.list_partitions(conn, table)}


def schema_drift(engine: sa.Engine) -> list[object]:
    """What autogenerate would change to make the database match ``schema.metadata``."""
    # Alembic misreads SQLite's DEFAULT '' as a changed default; PostgreSQL compares
    # defaults exactly, and test_sqlite_server_defaults covers SQLite's.
    compare_defaults = engine.dialect.name != "sqlite"
    skip = partition_tables(engine) if engine.dialect.name == "postgresql" else set()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "compare_server_default": compare_defaults,
            "include_name": lambda name, kind, _: not (kind == "table" and name in skip)})
        return list(compare_metadata(ctx, t.metadata))


def tables(engine: sa.Engine) -> set[str]:
    found = set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    return found - partition_tables(engine) if engine.dialect.name == "postgresql" else found


def test_migrations_create_exactly_the_declared_schema(db_url: str) -> None:
    store = Database.open(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        assert tables(store.engine) == TABLES == set(t.metadata.tables)
        assert schema_drift(store.engine) == []
    finally:
        store.close()


def test_sqlite_server_defaults(sqlite_store: Database) -> None:
    columns = {(table, c["name"]): c["default"]
               for table in ("models", "deployments")
               for c in sa.inspect(sqlite_store.engine).get_columns(table)}
    assert columns[("models", "description")] == "''"
    assert columns[("deployments", "reason")] == "''"
    with sqlite_store.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO models (name, created_at, config) VALUES ('m', 1, '{}')"))
    model = sqlite_store.models.get_model("m")
    assert model is not None
    assert model.description == ""


def test_downgrade_to_base_then_upgrade_again(db_url: str) -> None:
    store = Database.open(db_url)
    try:
        store.models.ensure_model("m")
        downgrade(store.engine, "base")
        assert current_revision(store.engine) is None
        assert tables(store.engine) == set()
        upgrade(store.engine)
        assert current_revision(store.engine) == head_revision()
        assert schema_drift(store.engine) == []
        assert store.models.list_models() == []  # a fresh, working schema
        store.models.ensure_model("m")
        assert [m.name for m in store.models.list_models()] == ["m"]
    finally:
        store.close()


def test_opening_twice_keeps_data_and_revision(db_url: str) -> None:
    first = Database.open(db_url)
    second = None
    try:
        first.models.ensure_model("m", config={"k": 1})
        second = Database.open(db_url)  # migrations find the schema at head: nothing to do
        assert current_revision(second.engine) == head_revision()
        assert second.models.get_model("m") == first.models.get_model("m")
        second.models.ensure_model("n")
        assert [m.name for m in first.models.list_models()] == ["m", "n"]
    finally:
        first.close()
        if second is not None:
            second.close()


def test_open_without_migrating_leaves_a_fresh_database_empty(sqlite_url: str) -> None:
    store = Database.open(sqlite_url, migrate=False)
    try:
        assert store.ping()
        assert current_revision(store.engine) is None
        assert tables(store.engine) == set()
    finally:
        store.close()


# The child runs through ``exec`` so that a *spawned* process (no fork of a threaded
# pytest) needs nothing from the test module, only rampup itself.
_CHILD = """
from rampup.store import Database
barrier.wait(timeout=120)
Database.open(url).close()
"""


@pytest.mark.slow
@pytest.mark.parametrize("rounds", [4])
def test_processes_migrating_one_fresh_database_at_once(
    db_url: str, tmp_path: Path, rounds: int
) -> None:
    ctx = multiprocessing.get_context("spawn")
    for n in range(rounds):
        url = db_url.replace("rampup.db", f"race{n}.db")  # a fresh SQLite file per round
        if n and url == db_url:
            break  # PostgreSQL: one fresh schema per test, so one round
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=exec, args=(_CHILD, {"url": url, "barrier": barrier}))
                 for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=180)
        assert [p.exitcode for p in procs] == [0, 0], f"round {n}: a migrating process failed"
        store = Database.open(url, migrate=False)
        try:
            assert current_revision(store.engine) == head_revision()
            assert schema_drift(store.engine) == []
        finally:
            store.close()


def test_fast_head_check_agrees_with_alembic(db_url: str) -> None:
    """Opening a store that is already at head skips alembic (CLI start-up time); the
    head read from the migration files is the one alembic computes."""
    from rampup.store.migrate import at_head, script_heads

    assert script_heads() == {head_revision()}
    store = Database.open(db_url)
    try:
        assert at_head(store.engine)
        downgrade(store.engine, "0001")
        assert not at_head(store.engine)
        upgrade(store.engine)
        assert at_head(store.engine)
    finally:
        store.close()
