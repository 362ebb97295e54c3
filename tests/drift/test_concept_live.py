"""Concept windows kept current from cursors equal a fresh read of the log, call after call,
while predictions, relabels and late labels keep arriving (SQLite and PostgreSQL)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from tests.rollout.test_incremental import T0, traffic

from rampup.drift.check import _concept, _streams
from rampup.drift.concept import Reference
from rampup.drift.live import ConceptWindows
from rampup.drift.report import DriftConfig
from rampup.drift.source import read_log
from rampup.store import Database

WINDOW_S = 30.0


def test_concept_windows_equal_a_fresh_read(store: Database) -> None:
    rng = np.random.default_rng(3)
    answers = [(str(rng.choice(["v1", "v2"])), float(rng.uniform(0, 0.6)),
                ["a", "b", 1, None][int(rng.integers(4))], [0.9, None, 0.3][int(rng.integers(3))],
                int(rng.integers(0, 9))) for _ in range(250)]
    labels = [(int(k), False, ["a", "b", 1, None][int(rng.integers(4))],
               float(rng.uniform(0, 40))) for k in rng.integers(0, 250, 300)]
    rows, feedback = traffic(answers, [], labels, "c")
    rows.sort(key=lambda x: x[0])
    feedback.sort(key=lambda x: x[0])
    now = [T0]
    windows = ConceptWindows(store, lag_s=10.0, clock=lambda: now[0])
    ref, config = Reference(0.8, 500), DriftConfig()
    compared = 0
    while rows or feedback:
        now[0] += 3.0
        due = [r for t, r in rows if t <= now[0]]
        rows = [(t, r) for t, r in rows if t > now[0]]
        if due:
            store.predictions.insert_predictions(due)
        fb = [f for t, f in feedback if t <= now[0]]
        feedback = [(t, f) for t, f in feedback if t > now[0]]
        if fb:
            store.feedback.add_feedback(fb)
        since = now[0] - WINDOW_S
        for version in ("v1", "v2"):
            full = read_log(store, "c", version, since, now[0])
            inc = windows.tail_for("c", version, WINDOW_S, now[0])
            assert inc.rows == full.rows
            np.testing.assert_array_equal(inc.ts, full.ts)
            np.testing.assert_array_equal(inc.correct, full.correct)  # NaN where unlabelled
            np.testing.assert_array_equal(inc.failed, full.failed)
            np.testing.assert_array_equal(inc.latency_ms, full.latency_ms)
            pd.testing.assert_series_equal(inc.outputs["prediction"], full.outputs["prediction"])
            np.testing.assert_array_equal(inc.outputs["confidence"].to_numpy(),
                                          full.outputs["confidence"].to_numpy())
            a, _ = _concept(full, [since, now[0]], ref, config)
            b, _ = _concept(inc, [since, now[0]], ref, config)
            assert [w.to_dict() for w in a] == [w.to_dict() for w in b]
            assert _streams(full, "adwin") == _streams(inc, "adwin")
            compared += int((~np.isnan(full.correct)).sum())
    assert compared > 300  # labelled rows were compared, not only empty windows
