"""Range partitions of the prediction log on PostgreSQL.

``predictions`` is partitioned by range of ``id`` and ``feedback`` by range of
``prediction_id`` (migration ``0014``). Prediction ids start with the millisecond they were
made in 12 hex digits (:mod:`rampup.predlog.ids`), so a time range is an id range: the
partition of a day holds that day's predictions, and the id stays the whole primary key
(``ON CONFLICT (id)`` keeps working). Feedback follows the prediction it is about, so a
label lands in its prediction's partition and erasure by prediction id prunes to it.
Every table also has a default partition: an id outside every range (a hand-made one, a
clock far off) is stored there, never refused.

Partitions are created ahead by the leader (:mod:`rampup.predlog.partitions`) and dropped
whole by retention once every row in them is past its model's retention
(:func:`rampup.security.retention.apply_retention`). SQLite is not partitioned: every
method here is a no-op there.

Pure part (bounds and names):

>>> bound(1_700_000_000)
'018bcfe56800'
>>> partition_name("predictions", 1_699_920_000)
'predictions_p20231114'
>>> gaps([(10, 20), (30, 40)], 0, 50)
[(0, 10), (20, 30), (40, 50)]
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from rampup.store.transactions import Repository

log = logging.getLogger("rampup.store")

#: partitioned table -> its partition key (a time-ordered id)
TABLES = {"predictions": "id", "feedback": "prediction_id"}
DAY_S = 86_400
AHEAD = 3  # intervals created ahead of the current one
#: how long DDL waits for the parent table's lock before giving up until the next pass
#: (a waiting ACCESS EXCLUSIVE request queues every later insert behind it)
LOCK_TIMEOUT = "2s"
_RANGE = re.compile(r"FROM \('([0-9a-f]{12})'\) TO \('([0-9a-f]{12})'\)")
_EARLIEST_S = 946_684_800  # 2000-01-01: older "times" in an id are not times


def bound(seconds: float) -> str:
    """The id bound of a point in time: ids made at or after it sort at or after it."""
    return f"{round(seconds * 1000):012x}"


def bound_seconds(value: str) -> float:
    """The point in time of an id or a bound (its 12-hex-digit millisecond prefix)."""
    return int(value[:12], 16) / 1000.0


def partition_name(table: str, start: float) -> str:
    t = datetime.fromtimestamp(start, UTC)
    if (t.hour, t.minute, t.second) == (0, 0, 0):
        return f"{table}_p{t:%Y%m%d}"
    return f"{table}_p{t:%Y%m%d_%H%M%S}"


def gaps(covered: Iterable[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """The parts of ``[lo, hi)`` that no range of ``covered`` holds."""
    out: list[tuple[int, int]] = []
    at = lo
    for a, b in sorted(covered):
        if b <= at or a >= hi:
            continue
        if a > at:
            out.append((at, a))
        at = max(at, b)
    if at < hi:
        out.append((at, hi))
    return out


def wanted(now: float, interval_s: int, ahead: int,
           covered: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Missing millisecond ranges of the current interval and ``ahead`` more (aligned to
    multiples of ``interval_s`` since the epoch), minus what existing partitions hold.

    >>> wanted(90_000, 86_400, 1, [])
    [(86400000, 172800000), (172800000, 259200000)]
    >>> wanted(90_000, 86_400, 1, [(86400000, 100000000)])
    [(100000000, 172800000), (172800000, 259200000)]
    """
    step = interval_s * 1000
    first = int(now // interval_s) * step
    covered = list(covered)
    out: list[tuple[int, int]] = []
    for k in range(ahead + 1):
        out.extend(gaps(covered, first + k * step, first + (k + 1) * step))
    return out


@dataclass(frozen=True)
class Partition:
    """One partition: its bounds are ids (``lo`` included, ``hi`` excluded); the default
    partition has none."""

    table: str
    name: str
    lo: str | None = None
    hi: str | None = None

    @property
    def is_default(self) -> bool:
        return self.lo is None

    @property
    def start(self) -> float | None:
        return None if self.lo is None else bound_seconds(self.lo)

    @property
    def end(self) -> float | None:
        return None if self.hi is None else bound_seconds(self.hi)

    @property
    def ms_range(self) -> tuple[int, int] | None:
        if self.lo is None or self.hi is None:
            return None
        return int(self.lo, 16), int(self.hi, 16)


# -- DDL on one connection (used by the repository and by migration 0014) ----------------

def is_partitioned(conn: sa.Connection, table: str) -> bool:
    if conn.dialect.name != "postgresql":
        return False
    return bool(conn.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:t))"),
        {"t": table}).scalar())


def list_partitions(conn: sa.Connection, table: str) -> list[Partition]:
    """The table's partitions, oldest first, the default partition last."""
    rows = conn.execute(sa.text(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(:t)"),
        {"t": table}).all()
    out: list[Partition] = []
    for name, spec in rows:
        m = _RANGE.search(spec or "")
        if m is not None:
            out.append(Partition(table, name, m[1], m[2]))
        elif spec == "DEFAULT":
            out.append(Partition(table, name))
        else:  # a partition made by hand with other bounds: leave it alone
            log.warning("partition %s of %s has bounds rampup does not read: %s",
                        name, table, spec)
    return sorted(out, key=lambda p: (p.is_default, p.lo or ""))


def create_default(conn: sa.Connection, table: str) -> str:
    name = f"{table}_default"
    conn.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {table} DEFAULT")
    return name


def create_partition(conn: sa.Connection, table: str, lo_ms: int, hi_ms: int, *,
                     default: str | None = None) -> str:
    """Create the partition ``[lo_ms, hi_ms)``; rows the default partition holds in that
    range move into it. Attached rather than created as ``PARTITION OF``: attaching takes
    a lock that lets inserts and reads of the other partitions go on."""
    key = TABLES[table]
    lo, hi = f"{lo_ms:012x}", f"{hi_ms:012x}"
    name = partition_name(table, lo_ms / 1000)
    conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS)")
    if default is not None:
        conn.execute(sa.text(
            f"WITH moved AS (DELETE FROM {default} WHERE {key} >= :lo AND {key} < :hi "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), {"lo": lo, "hi": hi})
    conn.exec_driver_sql(
        f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')")
    return name


def ensure(conn: sa.Connection, table: str, ranges: Sequence[tuple[int, int]]) -> list[str]:
    """Create partitions for the parts of ``ranges`` (milliseconds) no partition holds."""
    parts = list_partitions(conn, table)
    default = next((p.name for p in parts if p.is_default), None)
    covered = [r for p in parts if (r := p.ms_range) is not None]
    made: list[str] = []
    for lo, hi in ranges:
        for a, b in gaps(covered, lo, hi):
            made.append(create_partition(conn, table, a, b, default=default))
            covered.append((a, b))
    return made


def intervals_with_rows(conn: sa.Connection, table: str, key: str, interval_s: int,
                        now: float) -> list[tuple[int, int]]:
    """The aligned millisecond ranges in which ``table`` (not yet partitioned) holds
    time-ordered ids in ``key``, between 2000 and a year from ``now`` (rows elsewhere go
    to the default partition)."""
    step = interval_s * 1000
    found = conn.execute(sa.text(
        f"SELECT DISTINCT ('x' || lpad(substr({key}, 1, 12), 16, '0'))::bit(64)::bigint / "
        f":step FROM {table} WHERE {key} ~ '^[0-9a-f]{{12}}'"), {"step": step}).scalars()
    lo, hi = _EARLIEST_S * 1000, int((now + 366 * DAY_S) * 1000)
    return sorted((int(k) * step, (int(k) + 1) * step) for k in found
                  if lo <= int(k) * step <= hi)


def models_in(conn: sa.Connection, name: str) -> dict[str, float]:
    """Each model with rows in the partition ``name`` and its newest row's ``ts``: a walk
    of the ``(model, ts)`` index, one probe per model, not a scan of the rows."""
    rows = conn.execute(sa.text(
        f"WITH RECURSIVE m AS (SELECT min(model) AS model FROM {name} "
        f"UNION ALL SELECT (SELECT min(model) FROM {name} WHERE model > m.model) "
        f"FROM m WHERE m.model IS NOT NULL) "
        f"SELECT m.model, (SELECT max(ts) FROM {name} x WHERE x.model = m.model) "
        f"FROM m WHERE m.model IS NOT NULL")).all()
    return {model: float(ts) for model, ts in rows}


class SqlPartitions(Repository):
    """Partition upkeep for the prediction log (PostgreSQL; nothing to do on SQLite)."""

    def partitioned(self) -> bool:
        if self.db.dialect != "postgresql":
            return False
        with self.db.reading() as conn:
            return all(is_partitioned(conn, table) for table in TABLES)

    def list_partitions(self, table: str) -> list[Partition]:
        if table not in TABLES:
            raise ValueError(f"{table!r} is not a partitioned table (one of {sorted(TABLES)})")
        if self.db.dialect != "postgresql":
            return []
        with self.db.reading() as conn:
            return list_partitions(conn, table)

    def ensure_partitions(self, now: float, interval_s: int = DAY_S,
                          ahead: int = AHEAD) -> list[str]:
        """Create the partitions of the current interval and ``ahead`` more for every
        partitioned table (one transaction per table); returns the names made."""
        if not self.partitioned():
            return []
        made: list[str] = []
        for table in TABLES:
            with self.db.begin() as conn:
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                covered = [r for p in list_partitions(conn, table)
                           if (r := p.ms_range) is not None]
                made.extend(ensure(conn, table, wanted(now, interval_s, ahead, covered)))
        if made:
            log.info("partitions: created %s", ", ".join(made))
        return made

    def drop_partition_if(self, table: str, name: str,
                          expired: Callable[[dict[str, float]], bool]) -> int | None:
        """Drop the partition ``name`` of ``table`` when ``expired`` holds for its models'
        newest rows (``{model: max ts}``, read under a lock that keeps writers out);
        returns the rows it held, or None when it was kept."""
        parts = {p.name: p for p in self.list_partitions(table)}
        part = parts.get(name)
        if part is None or part.is_default:
            return None
        with self.db.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            conn.exec_driver_sql(f"LOCK TABLE {name} IN SHARE MODE")
            if not expired(models_in(conn, name)):
                return None
            rows = int(conn.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
            conn.exec_driver_sql(f"DROP TABLE {name}")
        log.info("partitions: dropped %s (%d rows past retention)", name, rows)
        return rows
