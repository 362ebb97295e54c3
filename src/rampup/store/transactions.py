"""The one place the store opens connections and transactions.

Every repository reads through :meth:`Transactions.reading` and writes through
:meth:`Transactions.begin`. Both join the transaction already open in the calling thread
or task (a context variable), so a unit of work that spans repositories is one
``with db.transaction():`` around ordinary repository calls: a review decision writes the
item, the reviewer's label and the prediction's feedback together; a failure anywhere in
it rolls all of it back. A call made inside a unit of work shares its fate: it commits
or rolls back with the unit, not on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa

from rampup.store.engine import insert_ignore

# engine -> (thread, connection) of the transaction open in this context (several
# databases may be open in one process: a copy, a test with two stores). The thread is
# kept because asyncio.to_thread copies the context into a worker thread, which must not
# share a connection with the thread that opened it.
_OPEN: ContextVar[dict[sa.Engine, tuple[int, sa.Connection]] | None] = ContextVar(
    "rampup_store_transaction", default=None)
# engine -> (thread, connection) that reads in this context share (``Transactions.reads``)
_READS: ContextVar[dict[sa.Engine, tuple[int, sa.Connection]] | None] = ContextVar(
    "rampup_store_reads", default=None)


def _held(var: ContextVar[dict[sa.Engine, tuple[int, sa.Connection]] | None],
          engine: sa.Engine) -> sa.Connection | None:
    open_ = var.get()
    held = None if open_ is None else open_.get(engine)
    if held is None or held[0] != threading.get_ident():
        return None
    return held[1]


class Transactions:
    """The engine and the transaction handling every repository shares."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def current(self) -> sa.Connection | None:
        """The connection of the unit of work open in this thread/task, if any."""
        return _held(_OPEN, self.engine)

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A transaction: the open unit of work's, else a new one committed on exit.
        Repository calls made inside it (same thread/task) join it."""
        conn = self.current()
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as conn:
            token = _OPEN.set({**(_OPEN.get() or {}),
                               self.engine: (threading.get_ident(), conn)})
            try:
                yield conn
            finally:
                _OPEN.reset(token)

    @contextmanager
    def reading(self, *, stream: bool = False) -> Iterator[sa.Connection]:
        """A connection to read with: the open unit of work's (so it sees its own
        writes), else the one :meth:`reads` shares, else a pooled one. ``stream=True``
        for a server-side cursor, which needs a transaction on PostgreSQL: never the
        shared (autocommit) connection."""
        conn = self.current() or (None if stream else _held(_READS, self.engine))
        if conn is not None:
            yield conn
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def reads(self) -> Iterator[None]:
        """Reads made inside share one pooled connection (a burst of small queries, such
        as a window's refresh, checks a connection out once, not once a query: each
        checkout pings a PostgreSQL server first). Writes are not affected."""
        if self.current() is not None or _held(_READS, self.engine) is not None:
            yield
            return
        # autocommit: each read is its own transaction, as on a connection of its own (no
        # transaction left open while the caller works between reads, and a failed read
        # does not abort the ones after it on PostgreSQL)
        with self.engine.connect() as raw:
            conn = raw.execution_options(isolation_level="AUTOCOMMIT")
            token = _READS.set({**(_READS.get() or {}),
                                self.engine: (threading.get_ident(), conn)})
            try:
                yield
            finally:
                _READS.reset(token)

    def insert_ignore(self, table: sa.Table, keys: list[str]) -> Any:
        """``INSERT ... ON CONFLICT (keys) DO NOTHING`` for this dialect."""
        return insert_ignore(self.engine, table, keys)


class Repository:
    """A repository holds the shared :class:`Transactions` (and nothing else mutable)."""

    def __init__(self, db: Transactions) -> None:
        self.db = db
