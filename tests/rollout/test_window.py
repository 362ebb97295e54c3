"""Windows rebuilt from the real prediction log (SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from rampup.errors import ValidationError
from rampup.rollout.window import PairedStats, WindowBuilder, WindowStats, measure, paired
from rampup.store import Database, FeedbackRecord

T0 = 1_700_000_000.0
M = "m"


def row(pid: str, version: str, ts: float, *, role: str = "answer", pred: Any = "a",
        conf: float | None = 0.7, latency: float = 10.0, error: str | None = None,
        request_id: str | None = None, model: str = M) -> dict[str, Any]:
    outputs = None if error else json.dumps({"prediction": pred, "confidence": conf, "id": pid})
    return {"id": pid, "request_id": request_id or pid.split("~")[0].split("-")[0], "ts": ts,
            "model": model, "version": version, "role": role, "stage": None,
            "inputs": json.dumps({"x": 1}), "outputs": outputs,
            "confidence": None if error else conf, "latency_ms": latency, "error": error,
            "request_key": None}


def label(pid: str, value: Any, *, ts: float = T0 + 9999, model: str = M) -> FeedbackRecord:
    return FeedbackRecord(pid, model, ts, "label", None, value, "user", f"{pid}:{value}:{ts}")


class Log:
    """Seeded synthetic traffic, kept as columns so tests can compute by hand."""

    def __init__(self, seed: int, n: int, version: str = "v1") -> None:
        rng = np.random.default_rng(seed)
        self.ids = [f"r{seed}x{i:05d}" for i in range(n)]
        self.ts = T0 + np.arange(n) * 0.5
        self.lat = rng.lognormal(np.log(20), 0.4, n)
        self.failed = rng.random(n) < 0.05
        self.pred = rng.choice(["a", "b", "c"], n)
        self.conf = rng.uniform(0.3, 1.0, n)
        truth = np.where(rng.random(n) < 0.8, self.pred, rng.choice(["a", "b", "c"], n))
        self.labelled = rng.random(n) < 0.4
        self.truth = truth
        self.rows = [row(self.ids[i], version, float(self.ts[i]), pred=str(self.pred[i]),
                         conf=float(self.conf[i]), latency=float(self.lat[i]),
                         error="ValueError: boom" if self.failed[i] else None)
                     for i in range(n)]
        self.labels = [label(self.ids[i], str(truth[i])) for i in range(n) if self.labelled[i]]

    def expected(self, sel: np.ndarray) -> dict[str, Any]:
        ok = sel & ~self.failed
        lab = ok & self.labelled
        return {"requests": int(sel.sum()), "errors": int((sel & self.failed).sum()),
                "latencies": self.lat[sel], "labelled": int(lab.sum()),
                "correct": int((lab & (self.pred == self.truth)).sum()),
                "predictions": self.pred[ok].tolist(), "scores": self.conf[ok]}


def check(w: WindowStats, exp: dict[str, Any]) -> None:
    assert w.requests == exp["requests"]
    assert w.errors == exp["errors"]
    np.testing.assert_allclose(np.sort(w.latencies_ms), np.sort(exp["latencies"]))
    assert (w.labelled, w.correct) == (exp["labelled"], exp["correct"])
    assert sorted(w.predictions.tolist()) == sorted(exp["predictions"])
    np.testing.assert_allclose(np.sort(w.scores), np.sort(exp["scores"]))
    assert w.latency(0.99) == pytest.approx(float(np.quantile(exp["latencies"], 0.99)))
    assert w.latency_mean == pytest.approx(float(np.mean(exp["latencies"])))
    assert w.error_rate == pytest.approx(exp["errors"] / exp["requests"])
    assert w.accuracy == pytest.approx(exp["correct"] / exp["labelled"])


def test_measure_matches_numpy(store: Database) -> None:
    log = Log(1, 600)
    other = Log(2, 200, version="v2")
    store.predictions.insert_predictions(log.rows + other.rows
                                         + [row("x1", "v1", T0, model="elsewhere")])
    store.feedback.add_feedback(log.labels + other.labels)
    since, until = T0 + 50.0, T0 + 250.0  # [since, until): rows 100..499
    w = measure(store, M, "v1", since=since, until=until)
    sel = (log.ts >= since) & (log.ts < until)
    assert sel.sum() == 400
    check(w, log.expected(sel))
    assert (w.version, w.roles, w.since, w.until) == ("v1", ("answer",), since, until)
    assert w.summary()["requests"] == 400
    # shadow rows are not answers
    assert measure(store, M, "v1", since=since, until=until, roles=("shadow",)).requests == 0


def test_windows_merge_like_one_window(store: Database) -> None:
    log = Log(3, 400)
    store.predictions.insert_predictions(log.rows)
    store.feedback.add_feedback(log.labels)
    whole = measure(store, M, "v1", since=T0, until=T0 + 200)
    first = measure(store, M, "v1", since=T0, until=T0 + 70)
    second = measure(store, M, "v1", since=T0 + 70, until=T0 + 200)
    merged = first + second
    for name in ("requests", "errors", "labelled", "correct", "since", "until"):
        assert getattr(merged, name) == getattr(whole, name)
    for name in ("latencies_ms", "scores", "abs_errors", "predictions"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    with pytest.raises(ValidationError, match="same version"):
        whole.merge(WindowStats("v2"))


def test_latest_label_wins_and_regression_errors(store: Database) -> None:
    rows = [row(f"q{i}", "v1", T0 + i, pred=float(p)) for i, p in enumerate([1.5, 2.0, 4.0])]
    rows.append(row("q3", "v1", T0 + 3, pred=7))
    store.predictions.insert_predictions(rows)
    store.feedback.add_feedback([label("q0", 1.0, ts=T0 + 10), label("q0", 2.0, ts=T0 + 11),
                                 label("q1", 2), label("q3", "seven")])
    w = measure(store, M, "v1", since=T0, until=T0 + 10)
    assert (w.labelled, w.correct) == (3, 1)  # q1: 2.0 == 2
    np.testing.assert_allclose(np.sort(w.abs_errors), [0.0, 0.5])
    assert w.mean_abs_error == pytest.approx(0.25)


def test_empty_window() -> None:
    w = WindowBuilder("v1").build()
    assert (w.requests, w.error_rate, w.accuracy, w.latency(0.5), w.latency_mean,
            w.mean_abs_error) == (0, None, None, None, None, None)


def shadow_traffic(store: Database, seed: int, n: int = 300) -> dict[str, Any]:
    """v1 answers; v2 in shadow (ids '<answer id>~v2') about 0.4 s later."""
    rng = np.random.default_rng(seed)
    ans_pred = rng.choice(["a", "b"], n)
    sh_pred = np.where(rng.random(n) < 0.9, ans_pred, rng.choice(["a", "b"], n))
    ans_conf, sh_conf = rng.uniform(0.5, 1, n), rng.uniform(0.5, 1, n)
    ans_fail, sh_fail = rng.random(n) < 0.03, rng.random(n) < 0.05
    labelled = rng.random(n) < 0.5
    truth = rng.choice(["a", "b"], n)
    ts = T0 + np.arange(n) * 1.0
    rows = []
    for i in range(n):
        aid = f"q{i:05d}"
        rows.append(row(aid, "v1", float(ts[i]), pred=str(ans_pred[i]),
                        conf=float(ans_conf[i]), error="boom" if ans_fail[i] else None))
        rows.append(row(f"{aid}~v2", "v2", float(ts[i]) + 0.4, role="shadow",
                        pred=str(sh_pred[i]), conf=float(sh_conf[i]), latency=30.0,
                        error="shadow call timed out" if sh_fail[i] else None))
        rows.append(row(f"{aid}~v3", "v3", float(ts[i]) + 0.3, role="shadow", pred="zzz"))
    # a shadow row whose answer never made it to the log
    rows.append(row("lost~v2", "v2", T0 + 10.2, role="shadow"))
    store.predictions.insert_predictions(rows)
    store.feedback.add_feedback([label(f"q{i:05d}",
                                       str(truth[i])) for i in range(n) if labelled[i]])
    return {"ans_pred": ans_pred, "sh_pred": sh_pred, "ans_conf": ans_conf,
            "sh_conf": sh_conf, "ans_fail": ans_fail, "sh_fail": sh_fail,
            "labelled": labelled, "truth": truth, "ts": ts}


def test_paired_joins_shadow_rows_with_their_answers(store: Database) -> None:
    t = shadow_traffic(store, 5)
    since, until = T0 + 100.0, T0 + 250.0
    pr = paired(store, M, "v2", "v1", since=since, until=until)
    # shadow rows logged in the window: answers 100..249 (ts + 0.4); 99's shadow is at 99.4
    sel = np.zeros(300, dtype=bool)
    sel[100:250] = True
    both = sel & ~t["sh_fail"] & ~t["ans_fail"]
    assert pr.n == int(both.sum())
    assert pr.candidate_errors == int((sel & t["sh_fail"]).sum())
    assert pr.primary_errors == int((sel & ~t["sh_fail"] & t["ans_fail"]).sum())
    assert (pr.unmatched, pr.pending, pr.human) == (0, 0, False)
    assert pr.primary_preds.tolist() == t["ans_pred"][both].tolist()
    assert pr.candidate_preds.tolist() == t["sh_pred"][both].tolist()
    np.testing.assert_allclose(pr.primary_scores, t["ans_conf"][both])
    np.testing.assert_allclose(pr.candidate_scores, t["sh_conf"][both])
    expected_labels = [str(t["truth"][i]) if t["labelled"][i] else None
                       for i in np.flatnonzero(both)]
    assert pr.labels.tolist() == expected_labels
    r = pr.agreement().result()
    assert r.agreement == pytest.approx(float(np.mean(t["ans_pred"][both] == t["sh_pred"][both])))
    assert r.labelled == sum(x is not None for x in expected_labels)

    # the shadow whose answer is missing is counted, not paired
    early = paired(store, M, "v2", "v1", since=T0, until=T0 + 20)
    assert early.unmatched == 1
    # merging two windows equals one window over both
    a = paired(store, M, "v2", "v1", since=since, until=T0 + 170)
    b = paired(store, M, "v2", "v1", since=T0 + 170, until=until)
    merged = a + b
    assert merged.n == pr.n
    assert merged.candidate_errors == pr.candidate_errors
    assert merged.candidate_preds.tolist() == pr.candidate_preds.tolist()
    assert merged.labels.tolist() == pr.labels.tolist()
    with pytest.raises(ValidationError, match="same candidate and primary"):
        pr.merge(PairedStats("v3", "v1"))


def test_measure_shadow_rows_take_their_answers_labels(store: Database) -> None:
    t = shadow_traffic(store, 6)
    since, until = T0 + 50.0, T0 + 200.0
    w = measure(store, M, "v2", since=since, until=until, roles=("shadow",))
    sel = np.zeros(300, dtype=bool)
    sel[50:200] = True
    ok = sel & ~t["sh_fail"]
    lab = ok & t["labelled"]
    assert (w.requests, w.errors) == (150, int((sel & t["sh_fail"]).sum()))
    assert w.labelled == int(lab.sum())
    assert w.correct == int((lab & (t["sh_pred"] == t["truth"])).sum())
    np.testing.assert_allclose(np.sort(w.scores), np.sort(t["sh_conf"][ok]))
    # the primary's answers over the same window, for comparison
    base = measure(store, M, "v1", since=since, until=until)
    assert base.requests == 150


def test_paired_with_a_human_primary(store: Database) -> None:
    """Answers wait for a person (version 'human', no output); the decision arrives as a
    label and is the primary's prediction."""
    rng = np.random.default_rng(7)
    n = 200
    model_pred = rng.choice(["fraud", "ok"], n, p=[0.2, 0.8])
    decided = rng.random(n) < 0.7
    human = np.where(rng.random(n) < 0.85, model_pred, rng.choice(["fraud", "ok"], n))
    rows = []
    for i in range(n):
        rows.append({**row(f"h{i:04d}", "human", T0 + i), "outputs": None,
                     "confidence": None})
        rows.append(row(f"h{i:04d}~v2", "v2", T0 + i + 0.2, role="shadow",
                        pred=str(model_pred[i]), conf=0.8))
    store.predictions.insert_predictions(rows)
    store.feedback.add_feedback([label(f"h{i:04d}", str(human[i]), model=M)
                                 for i in range(n) if decided[i]])
    pr = paired(store, M, "v2", "human", since=T0, until=T0 + n + 1)
    assert pr.human
    assert pr.n == int(decided.sum())
    assert pr.pending == int((~decided).sum())
    assert pr.primary_preds.tolist() == human[decided].tolist()
    assert pr.labels.tolist() == human[decided].tolist()
    assert np.isnan(pr.primary_scores).all()
    r = pr.agreement().result()
    for cls in ("fraud", "ok"):
        mask = decided & (human == cls)
        assert r.per_class[cls] == pytest.approx(float(np.mean(model_pred[mask] == cls)))
    assert r.candidate_accuracy == pytest.approx(r.agreement)


def test_pairing_is_bounded_by_the_slack(store: Database) -> None:
    store.predictions.insert_predictions([
        row("s1", "v1", T0 + 10.0), row("s1~v2", "v2", T0 + 10.4, role="shadow"),
        # logged out of order: the shadow row before its answer still pairs
        row("s2", "v1", T0 + 20.3), row("s2~v2", "v2", T0 + 20.1, role="shadow"),
        # same id shape, another request: never paired
        row("s3", "v1", T0 + 30.0), row("s3~v2", "v2", T0 + 30.1, role="shadow",
                                        request_id="other"),
    ])
    pr = paired(store, M, "v2", "v1", since=T0, until=T0 + 60)
    assert (pr.n, pr.unmatched) == (2, 1)
    tight = paired(store, M, "v2", "v1", since=T0, until=T0 + 60, slack_s=0.25)
    assert (tight.n, tight.unmatched) == (1, 2)  # s1's answer is 0.4 s older than its shadow
