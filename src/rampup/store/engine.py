"""Engine creation: SQLite (WAL, busy timeout) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event

from rampup.errors import MissingExtraError


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _json_loads(value: Any) -> Any:
    """Decode a JSON column. SQLite gives JSON columns NUMERIC affinity, so a document
    that is a bare number comes back as an int/float rather than text.

    >>> _json_loads('{"a": 1}'), _json_loads(1), _json_loads(0.5)
    ({'a': 1}, 1, 0.5)
    """
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


def insert_ignore(engine: sa.Engine, table: sa.Table, keys: list[str]) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO NOTHING`` for the engine's dialect."""
    from sqlalchemy.dialects import postgresql, sqlite

    from rampup.errors import StoreError

    name = engine.dialect.name
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    raise StoreError(f"unsupported database dialect {name!r}",  # pragma: no cover
                     fix="use SQLite or PostgreSQL")


def normalise_url(url: str) -> str:
    """Pick the psycopg (v3) driver for plain ``postgresql://`` URLs.

    >>> normalise_url("postgresql://postgres@127.0.0.1/test")
    'postgresql+psycopg://postgres@127.0.0.1/test'
    >>> normalise_url("sqlite:///x.db")
    'sqlite:///x.db'
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def create_engine(url: str) -> sa.Engine:
    url = normalise_url(url)
    if url.startswith("postgresql"):
        try:
            import psycopg  # noqa: F401
        except ImportError:  # pragma: no cover - depends on the install
            raise MissingExtraError("psycopg", "postgres", "a PostgreSQL store") from None
        # a server that stops answering (partition, not refusal) must not hang a worker
        # for the kernel's TCP timeout: its supervisor would only see a stall
        connect_args = {} if "connect_timeout" in url else {"connect_timeout": 10}
        return sa.create_engine(
            url,
            connect_args=connect_args,
            json_serializer=_json_dumps,
            json_deserializer=_json_loads,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
        )
    engine = sa.create_engine(url, json_serializer=_json_dumps, json_deserializer=_json_loads)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    # Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database
    # is locked" at once (no busy wait) when another process is switching it too.
    deadline = time.monotonic() + 10
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    cur.execute("PRAGMA synchronous=NORMAL")
    # Deleted rows are overwritten, not left in free pages: erasure ('rampup forget') and
    # retention must really remove the data from the file.
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
