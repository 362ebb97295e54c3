"""Incremental windows (a LogTail refreshed from cursors) give exactly what a full re-read of
the log gives, on random interleavings of answers, shadow rows, errors and late labels."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rampup.rollout.incremental import StepWindows
from rampup.rollout.window import PairedStats, WindowStats, measure, paired
from rampup.store import Database, FeedbackRecord
from tests.rollout.test_window import row

T0 = 1_700_000_000.0
SINCE = T0 + 20.0
SLACK = 3.0
LAG = 10.0
_models = itertools.count()


def _same_values(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def assert_same_array(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.shape == b.shape, what
    if a.dtype.kind == "f":
        assert b.dtype.kind == "f", what
        np.testing.assert_array_equal(a, b, err_msg=what)  # NaN == NaN here, bit for bit
    else:
        assert all(_same_values(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)), \
            (what, a, b)


def assert_same(full: WindowStats | PairedStats, inc: WindowStats | PairedStats) -> None:
    for name, v in vars(full).items():
        w = getattr(inc, name)
        if isinstance(v, np.ndarray):
            assert_same_array(v, w, name)
        else:
            assert v == w, (name, v, w)


ANSWER = st.tuples(st.sampled_from(["v1", "v2"]), st.floats(0, 4),
                   st.sampled_from(["a", "b", 1, 2.5, None]),  # None: the call failed
                   st.sampled_from([0.9, 0.4, None, 1.5]),
                   st.integers(0, 12))  # commit delay in seconds (within the lag)
SHADOW = st.tuples(st.integers(0, 40), st.sampled_from(["v2", "v3"]), st.floats(-5, 6),
                   st.sampled_from(["a", "b", 1, 2.0, None]), st.integers(0, 9))
LABEL = st.tuples(st.integers(0, 60), st.booleans(), st.sampled_from(["a", "b", 1, 2.5, None]),
                  st.floats(0, 60))


def traffic(answers: list[Any], shadows: list[Any], labels: list[Any], model: str,
            ) -> tuple[list[tuple[float, dict[str, Any]]], list[tuple[float, FeedbackRecord]]]:
    """(commit time, prediction row) and (commit time, label)."""
    rows: list[tuple[float, dict[str, Any]]] = []
    ts = T0
    for i, (version, gap, pred, conf, delay) in enumerate(answers):
        ts += gap
        err = "ValueError: boom" if pred is None else None
        r = row(f"a{i:04d}", version, ts, pred=pred, conf=conf, latency=float(i % 7) + 0.5,
                error=err, model=model, request_id=f"q{i}")
        rows.append((min(ts + delay, ts + LAG - 0.5), r))
    answer_rows = [r for _, r in rows]
    for j, (k, version, offset, pred, delay) in enumerate(shadows):
        if not answer_rows:
            break
        a = answer_rows[k % len(answer_rows)]
        sid = f"{a['id']}~{version}"
        if any(r["id"] == sid for _, r in rows):
            continue
        ts = max(T0, a["ts"] + offset)
        err = "ValueError: boom" if pred is None else None
        r = row(sid, version, ts, role="shadow", pred=pred, conf=0.6 if j % 2 else None,
                latency=3.0 + j % 5, error=err, model=model, request_id=a["request_id"])
        rows.append((ts + min(delay, LAG - 0.5), r))
    feedback = []
    for n, (k, on_shadow, value, later) in enumerate(labels):
        pool = [r for _, r in rows if (r["role"] == "shadow") == on_shadow] or \
            [r for _, r in rows]
        if not pool:
            break
        target = pool[k % len(pool)]
        at = target["ts"] + later
        feedback.append((at, FeedbackRecord(target["id"], model, at, "label", None, value,
                                            "user", f"{model}:{n}")))
    return rows, feedback


def check_ticks(store: Database, model: str, rows: list[Any], feedback: list[Any],
                tick_s: float) -> int:
    rows = sorted(rows, key=lambda x: x[0])
    feedback = sorted(feedback, key=lambda x: x[0])
    now = T0
    clock = [now]
    windows = StepWindows(store, lag_s=LAG, clock=lambda: clock[0])
    compared = 0
    end = max([t for t, _ in rows] + [t for t, _ in feedback] + [SINCE]) + tick_s
    while now <= end:
        now += tick_s
        clock[0] = now
        due = [r for t, r in rows if t <= now]
        rows = [(t, r) for t, r in rows if t > now]
        if due:
            store.predictions.insert_predictions(due)
        labels = [f for t, f in feedback if t <= now]
        feedback = [(t, f) for t, f in feedback if t > now]
        for f in labels:
            store.feedback.add_feedback([f])
        if now <= SINCE:
            continue
        span = max(now - SINCE, 8.0)
        for version in ("v1", "v2"):
            full = measure(store, model, version, since=SINCE, until=now, slack_s=SLACK)
            inc = windows.measure("k", model, version, since=SINCE, until=now, slack_s=SLACK)
            assert_same(full, inc)
            full = measure(store, model, version, since=SINCE - span, until=SINCE,
                           slack_s=SLACK)
            inc = windows.measure("k", model, version, since=SINCE - span, until=SINCE,
                                  slack_s=SLACK)
            assert_same(full, inc)
        for version in ("v2", "v3"):
            for roles in (("shadow",), ("answer", "shadow")):
                full = measure(store, model, version, since=SINCE, until=now, roles=roles,
                               slack_s=SLACK)
                inc = windows.measure("k", model, version, since=SINCE, until=now,
                                      roles=roles, slack_s=SLACK)
                assert_same(full, inc)
            for primary in ("v1", "human"):
                full_p = paired(store, model, version, primary, since=SINCE, until=now,
                                slack_s=SLACK)
                inc_p = windows.paired("k", model, version, primary, since=SINCE, until=now,
                                       slack_s=SLACK)
                assert_same(full_p, inc_p)
                compared += full_p.n
        compared += 1
    return compared


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(answers=st.lists(ANSWER, max_size=40), shadows=st.lists(SHADOW, max_size=30),
       labels=st.lists(LABEL, max_size=40), tick_s=st.sampled_from([2.0, 5.0, 11.0]))
def test_incremental_equals_full_reread(sqlite_store: Database, answers: list[Any],
                                        shadows: list[Any], labels: list[Any],
                                        tick_s: float) -> None:
    model = f"m{next(_models)}"
    rows, feedback = traffic(answers, shadows, labels, model)
    check_ticks(sqlite_store, model, rows, feedback, tick_s)


def test_incremental_equals_full_reread_dense(store: Database) -> None:
    """One dense seeded interleaving on both backends (the property test runs on SQLite)."""
    rng = np.random.default_rng(7)
    answers = [(str(rng.choice(["v1", "v2"])), float(rng.uniform(0, 1)),
                [("a"), "b", 1, 2.5, None][int(rng.integers(5))], 0.7, int(rng.integers(0, 9)))
               for _ in range(300)]
    shadows = [(int(k), str(rng.choice(["v2", "v3"])), float(rng.uniform(-4, 5)),
                ["a", "b", None][int(rng.integers(3))], int(rng.integers(0, 9)))
               for k in rng.integers(0, 300, 200)]
    labels = [(int(k), bool(rng.random() < 0.2), ["a", "b", 1][int(rng.integers(3))],
               float(rng.uniform(0, 80))) for k in rng.integers(0, 500, 250)]
    rows, feedback = traffic(answers, shadows, labels, "dense")
    assert check_ticks(store, "dense", rows, feedback, 3.0) > 100


def test_incremental_equals_full_reread_with_spilled_codes(sqlite_store: Database,
                                                           monkeypatch: Any) -> None:
    """Past its limit of distinct class strings a tail compares the rest as strings (a
    regression model's outputs): the windows stay the same."""
    import rampup.rollout.codes

    monkeypatch.setattr(rampup.rollout.codes, "MAX_CODES", 2)
    rng = np.random.default_rng(11)
    values = ["a", "b", 1, 2.5, "c", 7, None]
    answers = [(str(rng.choice(["v1", "v2"])), float(rng.uniform(0, 1)),
                values[int(rng.integers(len(values)))], 0.7, int(rng.integers(0, 9)))
               for _ in range(150)]
    shadows = [(int(k), str(rng.choice(["v2", "v3"])), float(rng.uniform(-4, 5)),
                values[int(rng.integers(len(values)))], int(rng.integers(0, 9)))
               for k in rng.integers(0, 150, 80)]
    labels = [(int(k), bool(rng.random() < 0.2), values[int(rng.integers(len(values) - 1))],
               float(rng.uniform(0, 80))) for k in rng.integers(0, 250, 150)]
    rows, feedback = traffic(answers, shadows, labels, "spilled")
    assert check_ticks(sqlite_store, "spilled", rows, feedback, 5.0) > 50
