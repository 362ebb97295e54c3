"""The partitioned prediction log on the real PostgreSQL (migration 0014,
``store/partitions.py``): partitions made ahead, strays in the default partition, rows
moved out of it when their partition is made, retention dropping whole partitions, erasure
across partitions, and SQLite left unpartitioned with the same contract."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from rampup.project import ProjectFile
from rampup.security.erase import forget
from rampup.security.retention import apply_retention
from rampup.store import Database, FeedbackRecord
from rampup.store import partitions as parts

DAY = 86_400.0
NOW = 1_790_000_000.0  # 2026-09-21 14:13 UTC
MIDNIGHT = NOW - NOW % DAY
PG = pytest.mark.postgres


def pid(at: float) -> str:
    """A prediction id made at ``at``, as predlog/ids.py makes them."""
    return f"{round(at * 1000):012x}{os.urandom(10).hex()}"


def row(i: str, at: float, *, model: str = "m", key: str | None = None) -> dict[str, Any]:
    return {"id": i, "request_id": i, "ts": at, "model": model, "version": "v1",
            "role": "answer", "stage": None, "inputs": '{"x": 1}', "outputs": "1",
            "confidence": None, "latency_ms": 1.0, "error": None, "request_key": key}


def label(prediction: dict[str, Any], ts: float | None = None) -> FeedbackRecord:
    return FeedbackRecord(prediction["id"], prediction["model"],
                          prediction["ts"] if ts is None else ts, "label", None, 1, "user",
                          f"k-{prediction['id']}")


def home(store: Database, table: str, key: str, value: str) -> str:
    """The partition a row is stored in."""
    with store.engine.connect() as conn:
        return str(conn.execute(sa.text(f"SELECT tableoid::regclass::text FROM {table} "
                                        f"WHERE {key} = :v"), {"v": value}).scalar_one())


def exists(store: Database, name: str) -> bool:
    with store.engine.connect() as conn:
        return conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": name}).scalar() is not None


def index_names(store: Database, table: str) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(sa.text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(:t)"), {"t": table}).scalars())


@pytest.fixture
def pg(pg_url: str) -> Iterator[Database]:
    store = Database.open(pg_url)
    yield store
    store.close()


@PG
def test_migration_partitions_both_tables_with_every_index(pg: Database) -> None:
    assert pg.partitions.partitioned()
    now = time.time()
    today = parts.partition_name("predictions", now - now % DAY)
    names = [p.name for p in pg.partitions.list_partitions("predictions")]
    assert names[-1] == "predictions_default"
    assert today in names
    assert len(names) >= parts.AHEAD + 2  # today, the days ahead, the default
    assert index_names(pg, "predictions") == {
        "predictions_pkey", "ix_predictions_model_ts", "ix_predictions_request_id",
        "ix_predictions_request_key", "ix_predictions_ts"}
    assert index_names(pg, "feedback") == {
        "feedback_pkey", "uq_feedback_prediction_dedupe", "ix_feedback_prediction_id",
        "ix_feedback_model_ts", "ix_feedback_ts"}
    # every partition carries the parent's indexes
    for table, n in (("predictions", 5), ("feedback", 5)):
        for part in pg.partitions.list_partitions(table):
            assert len(index_names(pg, part.name)) == n, part.name


@PG
def test_partitions_are_made_ahead_and_never_twice(pg: Database) -> None:
    made = pg.partitions.ensure_partitions(NOW, 86_400, 2)
    days = [parts.partition_name(t, MIDNIGHT + k * DAY) for t in parts.TABLES for k in range(3)]
    assert sorted(made) == sorted(days)
    assert pg.partitions.ensure_partitions(NOW, 86_400, 2) == []
    # a finer interval only fills what no partition holds: the day after them, by hours
    made = pg.partitions.ensure_partitions(MIDNIGHT + 3 * DAY, 6 * 3600, 4)
    assert sorted(n for n in made if n.startswith("predictions")) == [
        "predictions_p20260924", "predictions_p20260924_060000",
        "predictions_p20260924_120000", "predictions_p20260924_180000",
        "predictions_p20260925"]
    p = {x.name: x for x in pg.partitions.list_partitions("predictions")}
    assert p["predictions_p20260924_060000"].start == MIDNIGHT + 3 * DAY + 6 * 3600
    assert p["predictions_p20260924"].end == MIDNIGHT + 3 * DAY + 6 * 3600


@PG
def test_rows_land_in_their_partition_and_strays_in_the_default(pg: Database) -> None:
    pg.partitions.ensure_partitions(NOW, 86_400, 1)
    rows = {"now": row(pid(NOW), NOW), "tomorrow": row(pid(NOW + DAY), NOW + DAY),
            "far future": row(pid(NOW + 900 * DAY), NOW + 900 * DAY),
            "far past": row(pid(NOW - 900 * DAY), NOW - 900 * DAY),
            "not a time": row("p00001", NOW), "shadow": row(pid(NOW) + "~v2", NOW)}
    assert pg.predictions.insert_predictions(list(rows.values())) == len(rows)
    assert pg.predictions.insert_predictions([rows["now"], rows["far past"]]) == 0  # ON CONFLICT
    assert pg.feedback.add_feedback([label(r) for r in rows.values()]) == [True] * len(rows)
    assert pg.feedback.add_feedback([label(rows["now"])]) == [False]  # the dedupe key holds
    day = parts.partition_name("{}", MIDNIGHT)
    nxt = parts.partition_name("{}", MIDNIGHT + DAY)
    want = {"now": day, "tomorrow": nxt, "far future": "{}_default",
            "far past": "{}_default", "not a time": "{}_default", "shadow": day}
    for what, r in rows.items():
        assert home(pg, "predictions", "id", r["id"]) == want[what].format("predictions"), what
        assert home(pg, "feedback", "prediction_id", r["id"]) == want[what].format("feedback")
    got = {r["id"]: r for r in pg.predictions.get_predictions([r["id"] for r in rows.values()])}
    assert got == {r["id"]: r for r in rows.values()}


@PG
def test_making_a_partition_moves_its_rows_out_of_the_default(pg: Database) -> None:
    later = row(pid(NOW + 40 * DAY), NOW + 40 * DAY)
    pg.predictions.insert_predictions([later, row("zz-stray", NOW)])
    pg.feedback.add_feedback([label(later)])
    assert home(pg, "predictions", "id", later["id"]) == "predictions_default"
    made = pg.partitions.ensure_partitions(NOW + 40 * DAY, 86_400, 0)
    name = parts.partition_name("predictions", MIDNIGHT + 40 * DAY)
    assert name in made
    assert home(pg, "predictions", "id", later["id"]) == name
    assert home(pg, "feedback", "prediction_id", later["id"]) == name.replace("predictions",
                                                                               "feedback")
    assert home(pg, "predictions", "id", "zz-stray") == "predictions_default"
    assert pg.predictions.get_predictions([later["id"]]) == [later]
    assert [f.dedupe_key for f in pg.feedback.list_feedback(later["id"])] == [
        f"k-{later['id']}"]


def _fill(store: Database, days: list[float], per_day: int, *,
          model: str = "m") -> dict[float, list[dict[str, Any]]]:
    out = {}
    for d in days:
        rows = [row(pid(d + 3600 + i), d + 3600 + i, model=model) for i in range(per_day)]
        store.predictions.insert_predictions(rows)
        store.feedback.add_feedback([label(r) for r in rows])
        out[d] = rows
    return out


@PG
def test_retention_drops_whole_partitions_and_deletes_the_straddling_rows(
        pg: Database) -> None:
    old = [MIDNIGHT - k * DAY for k in (40, 39, 38)]
    for d in old:
        pg.partitions.ensure_partitions(d, 86_400, 0)
    pg.partitions.ensure_partitions(NOW - 30 * DAY, 86_400, 0)  # straddles the cut-off
    pg.partitions.ensure_partitions(NOW, 86_400, 0)
    rows = _fill(pg, old, 5)
    cut = NOW - 30 * DAY
    straddle = [row(pid(cut - 60), cut - 60), row(pid(cut + 60), cut + 60)]
    recent = [row(pid(NOW - 10), NOW - 10)]
    pg.predictions.insert_predictions(straddle + recent)
    pg.feedback.add_feedback([label(r) for r in straddle + recent])
    dropped = [parts.partition_name(t, d) for t in parts.TABLES for d in old]
    assert all(exists(pg, n) for n in dropped)
    project = ProjectFile.model_validate({"retention": {"predictions": "30d",
                                                        "feedback": "30d"}})

    report = apply_retention(pg, project, now=NOW, models=["m"], rest=0)

    assert sorted(report.dropped) == sorted(dropped)
    assert not any(exists(pg, n) for n in dropped)  # dropped whole, not emptied by DELETE
    assert report.deleted["predictions"] == 3 * 5 + 1  # + the straddling day's older row
    assert report.deleted["feedback"] == 3 * 5 + 1
    gone = [r["id"] for rs in rows.values() for r in rs] + [straddle[0]["id"]]
    assert pg.predictions.get_predictions(gone) == []
    assert all(pg.feedback.list_feedback(i) == [] for i in gone)
    kept = [straddle[1], *recent]
    assert pg.predictions.get_predictions([r["id"] for r in kept]) == kept
    assert exists(pg, parts.partition_name("predictions", cut - cut % DAY))
    assert apply_retention(pg, project, now=NOW, models=["m"], rest=0).total == 0


@PG
def test_a_partition_is_kept_while_one_of_its_rows_is_not_due(pg: Database) -> None:
    """A model kept forever, a label newer than the cut-off or a model retention does
    not know keeps the partition; its due rows still go, in batches."""
    days = [MIDNIGHT - k * DAY for k in (50, 49, 48)]
    for d in days:
        pg.partitions.ensure_partitions(d, 86_400, 0)
    _fill(pg, days[:1], 3)
    _fill(pg, days[:1], 2, model="forever")  # no rule: kept
    late = _fill(pg, days[1:2], 3)[days[1]]
    pg.feedback.add_feedback([dataclasses.replace(label(late[0], ts=NOW - 60),
                                                  dedupe_key="late")])
    _fill(pg, days[2:], 3, model="unknown")  # not among the models retention runs for
    forever = ProjectFile.model_validate({
        "models": {"m": {"retention": {"predictions": "30d", "feedback": "30d"}},
                   "forever": {}}})

    report = apply_retention(pg, forever, now=NOW, models=["m", "forever"], rest=0)

    p = [parts.partition_name("predictions", d) for d in days]
    f = [parts.partition_name("feedback", d) for d in days]
    # day 0: "forever" keeps the partitions; m's rows there are deleted in batches
    assert exists(pg, p[0])
    assert exists(pg, f[0])
    assert pg.predictions.count_predictions("m") == 0
    assert pg.predictions.count_predictions("forever") == 2
    # day 1: the predictions partition goes, the feedback one waits for the late label
    assert not exists(pg, p[1])
    assert exists(pg, f[1])
    assert [x.dedupe_key for x in pg.feedback.list_feedback(late[0]["id"])] == ["late"]
    # day 2: only "unknown" rows, which this pass does not cover
    assert exists(pg, p[2])
    assert exists(pg, f[2])
    assert pg.predictions.count_predictions("unknown") == 3
    assert sorted(report.dropped) == [p[1]]


@PG
def test_forget_erases_a_subject_across_partitions(pg: Database) -> None:
    for d in (MIDNIGHT - 3 * DAY, MIDNIGHT):
        pg.partitions.ensure_partitions(d, 86_400, 0)
    subject = [row(pid(MIDNIGHT - 3 * DAY + 5), MIDNIGHT - 3 * DAY + 5, key="alice"),
               row(pid(NOW), NOW, key="alice"), row("stray-1", NOW, key="alice")]
    other = [row(pid(NOW + 1), NOW + 1, key="bob")]
    pg.predictions.insert_predictions(subject + other)
    pg.feedback.add_feedback([label(r) for r in subject + other])
    homes = {home(pg, "predictions", "id", r["id"]) for r in subject}
    assert len(homes) == 3  # two day partitions and the default

    report = forget(pg, ProjectFile(), "alice", actor="test")

    assert report["deleted"]["predictions"] == 3
    assert report["deleted"]["feedback"] == 3
    assert pg.predictions.subject_predictions(["alice"]) == []
    assert pg.predictions.get_predictions([other[0]["id"]]) == other
    assert len(pg.feedback.list_feedback(other[0]["id"])) == 1


def test_sqlite_is_not_partitioned(sqlite_store: Database) -> None:
    assert not sqlite_store.partitions.partitioned()
    assert sqlite_store.partitions.list_partitions("predictions") == []
    assert sqlite_store.partitions.ensure_partitions(NOW) == []
    with pytest.raises(ValueError, match="not a partitioned table"):
        sqlite_store.partitions.list_partitions("events")
    r = row(pid(NOW - 40 * DAY), NOW - 40 * DAY)
    sqlite_store.predictions.insert_predictions([r])
    project = ProjectFile.model_validate({"retention": {"predictions": "30d"}})
    report = apply_retention(sqlite_store, project, now=NOW, models=["m"], rest=0)
    assert (report.dropped, report.deleted["predictions"]) == ([], 1)


def _fill_at_0013(store: Database) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows written before 0014: three days of time-ordered ids and a stray, each with a
    label (written as 0013's unique dedupe key allowed)."""
    preds = [row(pid(MIDNIGHT - k * DAY + 60 * i), MIDNIGHT - k * DAY + 60 * i)
             for k in (2, 1, 0) for i in range(3)] + [row("legacy-1", NOW)]
    store.predictions.insert_predictions(preds)
    fb = [{"id": n + 1, "prediction_id": p["id"], "model": "m", "ts": p["ts"], "kind": "label",
           "name": None, "value": "1", "source": "user", "dedupe_key": f"k-{p['id']}"}
          for n, p in enumerate(preds)]
    with store.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO feedback (id, prediction_id, model, ts, kind, name, value, source, "
            "dedupe_key) VALUES (:id, :prediction_id, :model, :ts, :kind, :name, :value, "
            ":source, :dedupe_key)"), fb)
        if store.dialect == "postgresql":
            conn.execute(sa.text("SELECT setval('feedback_id_seq', :n)"), {"n": len(fb)})
    return preds, fb


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r["id"]))


def _feedback_rows(store: Database) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT id, prediction_id, dedupe_key, ts FROM feedback ORDER BY id"))]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=PG)])
def test_migration_up_and_down_with_rows_in_place(backend: str,
                                                   request: pytest.FixtureRequest) -> None:
    from rampup.store.migrate import downgrade, upgrade

    url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    store = Database.open(url, migrate=False)
    try:
        upgrade(store.engine, "0013")
        preds, fb = _fill_at_0013(store)
        before = _feedback_rows(store)
        ids = [p["id"] for p in preds]

        upgrade(store.engine)
        assert by_id(store.predictions.get_predictions(ids)) == by_id(preds)
        assert _feedback_rows(store) == before
        if backend == "postgres":
            for k in (2, 1, 0):
                day = parts.partition_name("predictions", MIDNIGHT - k * DAY)
                assert {home(store, "predictions", "id", p["id"]) for p in preds[:-1]
                        if MIDNIGHT - k * DAY <= p["ts"] < MIDNIGHT - (k - 1) * DAY} == {day}
            assert home(store, "predictions", "id", "legacy-1") == "predictions_default"
            assert home(store, "feedback", "prediction_id", "legacy-1") == "feedback_default"
        # the sequence goes on; the dedupe key is unique per prediction
        new = row(pid(NOW), NOW)
        store.predictions.insert_predictions([new])
        assert store.feedback.add_feedback([label(new), label(new)]) == [True, False]
        assert _feedback_rows(store)[-1][0] > len(fb)

        downgrade(store.engine, "0013")
        assert not store.partitions.partitioned()
        assert by_id(store.predictions.get_predictions([*ids, new["id"]])) == by_id([*preds, new])
        assert _feedback_rows(store)[:len(before)] == before
        names = set(sa.inspect(store.engine).get_table_names())
        assert not any(n.startswith(("predictions_", "feedback_")) for n in names)
        indexes = {i["name"] for t in ("predictions", "feedback")
                   for i in sa.inspect(store.engine).get_indexes(t)}
        assert {"ix_predictions_model_ts", "ix_predictions_request_id",
                "ix_predictions_request_key", "ix_predictions_ts", "ix_feedback_prediction_id",
                "ix_feedback_model_ts", "ix_feedback_ts"} <= indexes
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(sa.text(  # 0013's constraint: the key alone is unique again
                "INSERT INTO feedback (prediction_id, model, ts, kind, source, dedupe_key) "
                "VALUES ('other', 'm', 1, 'label', 'user', :k)"), {"k": f"k-{ids[0]}"})

        upgrade(store.engine)
        assert by_id(store.predictions.get_predictions(ids)) == by_id(preds)
        assert store.partitions.partitioned() == (backend == "postgres")
    finally:
        store.close()
