"""Failure classes on real driver errors (SQLite, PostgreSQL, SQLAlchemy's wrappers),
safe text of hostile values, and per-record isolation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from rampup.runtime import classify, describe, map_isolated, safe_text, write_isolated
from rampup.runtime.faults import json_safe
from rampup.store import Database


def test_sqlite_errors_are_classified(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT NOT NULL)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'a')"))
    with pytest.raises(sa.exc.IntegrityError) as dup, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1, 'b')"))
    assert classify(dup.value) == "record"
    # the sqlite3 driver's own UnicodeEncodeError, unwrapped
    with pytest.raises(UnicodeEncodeError) as bad, engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (2, :s)"), {"s": "\ud800"})
    assert classify(bad.value) == "record"
    with pytest.raises(sa.exc.OperationalError) as missing, engine.begin() as conn:
        conn.execute(sa.text("SELECT * FROM nowhere"))
    assert classify(missing.value) == "transient"  # retried, never dead-lettered
    # a bug: a parameter missing
    with pytest.raises(sa.exc.StatementError) as prog, engine.begin() as conn:
        conn.execute(sa.text("SELECT :a"), {"b": 1})
    assert classify(prog.value) == "fatal"
    engine.dispose()
    assert classify(sqlite3.OperationalError("database is locked")) == "transient"


@pytest.mark.postgres
def test_postgres_errors_are_classified(pg_url: str) -> None:
    store = Database.open(pg_url)
    try:
        with pytest.raises(sa.exc.DataError) as nul, store.engine.begin() as conn:
            conn.execute(sa.text("SELECT CAST(:s AS text)"), {"s": "a\x00b"})
        assert classify(nul.value) == "record"
        with pytest.raises(sa.exc.DataError) as rng, store.engine.begin() as conn:
            conn.execute(sa.text("SELECT CAST(:n AS integer)"), {"n": 2**40})
        assert classify(rng.value) == "record"
        with pytest.raises(Exception) as surrogate:  # noqa: PT011 - the driver's own type
            store.predictions.insert_predictions([{
                "id": "x", "request_id": "x", "ts": 0.0, "model": "m", "version": "v",
                "role": "answer", "stage": None, "inputs": '{"r": "\ud800"}', "outputs": None,
                "confidence": None, "latency_ms": 1.0, "error": None, "request_key": None}])
        assert classify(surrogate.value) == "record"  # raw psycopg (COPY), not wrapped
    finally:
        store.close()
    gone = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/test",
                            connect_args={"connect_timeout": 2})
    with pytest.raises(sa.exc.OperationalError) as refused:
        gone.connect()
    assert classify(refused.value) == "transient"


def test_describe_drops_sql_and_parameters() -> None:
    exc = sa.exc.StatementError("boom", "INSERT INTO t VALUES (?)", [{"secret": "x" * 50}],
                                TypeError("Integer exceeds 64-bit range"))
    assert describe(exc) == "TypeError: Integer exceeds 64-bit range"


@pytest.mark.parametrize(("value", "expected"), [
    ({"n": 10**30}, '{"n": 1000000000000000000000000000000}'),  # repr: no JSON for it
    ({"n": 10**5000}, "{'n': <int of 16610 bits>}"),
    ("\ud800", "\\ud800"),
    ("a\x00b", "a\\x00b"),
    ({"s": "caf\u00e9"}, '{"s":"caf\u00e9"}'),
])
def test_safe_text(value: object, expected: str) -> None:
    text = safe_text(value)
    assert text.replace("'", '"') == expected.replace("'", '"') or text == expected
    text.encode("utf-8")  # always encodable
    assert "\x00" not in text


def test_safe_text_caps_size_and_survives_broken_repr() -> None:
    assert len(safe_text("x" * 100_000, 100)) < 160
    assert "cut at 100" in safe_text(["y" * 50] * 10, 100)

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "Hostile" in safe_text(Hostile())


def test_json_safe_changes_only_what_it_must() -> None:
    doc = {"a": [1, "ok", {"\ud800": 2**70}], "b": -(2**63), "c": 10**400, "d": "x\x00"}
    safe, changed = json_safe(doc)
    assert set(changed) == {"a[2].\\ud800", "c", "d"}
    assert safe["a"][:2] == [1, "ok"]
    assert safe["b"] == -(2**63)
    assert safe["a"][2] == {"\\ud800": float(2**70)}
    assert safe["c"] == "<int of 401 digits>"
    assert safe["d"] == "x\\x00"
    clean = {"x": [1, 2.5, "é", None, True]}
    assert json_safe(clean) == (clean, [])


def test_bisection_isolates_every_bad_record_and_writes_the_rest() -> None:
    writes: list[list[int]] = []

    def write(batch: list[int]) -> int:
        writes.append(batch)
        if any(i % 100 == 7 for i in batch):
            raise TypeError("bad value")
        return len(batch)

    dead: list[int] = []
    n = write_isolated(list(range(1000)), write, lambda i, exc: dead.append(i))
    assert dead == [7, 107, 207, 307, 407, 507, 607, 707, 807, 907]
    assert n == 990
    written = sorted(i for b in writes if not any(j % 100 == 7 for j in b) for i in b)
    assert written == [i for i in range(1000) if i % 100 != 7]


def test_transient_and_fatal_failures_propagate_untouched() -> None:
    def down(batch: list[int]) -> int:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        write_isolated([1, 2, 3], down, lambda i, e: pytest.fail("not a record's fault"))

    def bug(batch: list[int]) -> int:
        raise KeyError("x")

    with pytest.raises(KeyError):
        write_isolated([1, 2, 3], bug, lambda i, e: pytest.fail("not a record's fault"))
    with pytest.raises(KeyError):
        map_isolated([1], lambda i: {}["x"], lambda i, e: None)
    assert map_isolated(["1", "x"], int, lambda i, e: -1) == [1, -1]
