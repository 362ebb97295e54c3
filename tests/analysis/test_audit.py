"""Audits: every check's value against sklearn/pandas, spec errors, and the deploy gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, recall_score

from rampup.analysis.audit import (
    AuditSpec,
    attach_audit,
    check_deploy_gate,
    load_audit_spec,
    parse_audit_spec,
    run_audit,
    save_audit_result,
)
from rampup.errors import ForbiddenError, ValidationError
from rampup.store import Database


def _data(seed: int = 0, n: int = 2000) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "id": [f"q{i}" for i in range(n)],
        "gender": rng.choice(["f", "m", "x"], n, p=[0.48, 0.48, 0.04]),
        "age": rng.integers(18, 90, n),
        "query_type": rng.choice(["navigational", "informational"], n, p=[0.1, 0.9]),
    })
    y = (rng.random(n) < 0.3).astype(int)
    flip = rng.random(n) < np.where(df.gender == "m", 0.25, 0.1)
    p = np.where(flip, 1 - y, y)
    p[(df.query_type == "navigational").to_numpy()] = y[(df.query_type == "navigational")
                                                        .to_numpy()]
    return df, y, p


def _spec(checks: list[dict], **top: object) -> AuditSpec:
    return parse_audit_spec({"name": "release", **top, "checks": checks})


def test_overall_and_slice_values_match_sklearn() -> None:
    df, y, p = _data()
    spec = _spec([
        {"type": "overall", "metric": "accuracy", "min": 0.5},
        {"type": "overall", "metric": "error_rate", "max": 0.01, "name": "almost no errors"},
        {"type": "slice", "metric": "recall", "where": "age >= 65", "min": 0.99},
        {"type": "slice", "metric": "accuracy", "by": "gender", "min": 0.8},
    ], min_support=100)
    res = run_audit(spec, df, y, p)
    by_name = {c.name: c for c in res.checks}
    acc = by_name["accuracy >= 0.5"]
    assert (acc.passed, acc.n, acc.op, acc.threshold) == (True, 2000, ">=", 0.5)
    assert acc.value == pytest.approx(accuracy_score(y, p))
    err = by_name["almost no errors"]
    assert err.passed is False
    assert err.value == pytest.approx(1 - accuracy_score(y, p))
    assert (err.op, err.threshold) == ("<=", 0.01)
    old = (df.age >= 65).to_numpy()
    rec = by_name["recall >= 0.99 [age >= 65]"]
    assert rec.n == old.sum()
    assert rec.value == pytest.approx(recall_score(y[old], p[old]))
    assert rec.passed is False
    for g in ("f", "m"):
        m = (df.gender == g).to_numpy()
        c = by_name[f"accuracy >= 0.8 [gender={g}]"]
        assert c.n == m.sum()
        assert c.value == pytest.approx(accuracy_score(y[m], p[m]))
        assert c.slice == f"gender={g}"
    assert by_name["accuracy >= 0.8 [gender=f]"].passed is True
    assert by_name["accuracy >= 0.8 [gender=m]"].passed is False
    small = by_name["accuracy >= 0.8 [gender=x]"]  # about 80 rows < min_support 100
    assert small.passed is None
    assert "skipped" in small.detail
    assert res.passed is False
    assert set(res.failed) == {"almost no errors", "recall >= 0.99 [age >= 65]",
                               "accuracy >= 0.8 [gender=m]"}
    assert res.summary()["skipped"] == ["accuracy >= 0.8 [gender=x]"]


def test_fairness_gap_between_groups() -> None:
    df, y, p = _data(1)
    spec = _spec([{"type": "max_gap", "metric": "accuracy", "attribute": "gender",
                   "max_gap": 0.05},
                  {"type": "max_gap", "metric": "selection_rate", "attribute": "gender",
                   "max_gap": 0.5, "min_support": 1, "name": "parity"}], min_support=200)
    gap, parity = run_audit(spec, df, y, p).checks
    f, m = (df.gender == "f").to_numpy(), (df.gender == "m").to_numpy()
    expected = accuracy_score(y[f], p[f]) - accuracy_score(y[m], p[m])
    assert gap.value == pytest.approx(expected)  # "x" is left out: fewer than 200 rows
    assert gap.n == f.sum() + m.sum()
    assert gap.passed is False
    assert "x" in gap.detail.split("left out")[1]
    rates = [p[(df.gender == g).to_numpy()].mean() for g in ("f", "m", "x")]
    assert parity.value == pytest.approx(max(rates) - min(rates))
    assert parity.n == 2000
    assert parity.passed is True


def test_must_get_right_by_ids_and_expression() -> None:
    df, y, p = _data(2)
    nav = (df.query_type == "navigational").to_numpy()
    wrong = np.flatnonzero(y != p)[:2]
    right = np.flatnonzero(y == p)[:2]
    spec = _spec([
        {"type": "must_get_right", "name": "navigational",
         "where": "query_type == 'navigational'"},
        {"type": "must_get_right", "ids": [*(str(i) for i in df.id[right]), df.id[wrong[0]]]},
        {"type": "must_get_right", "ids": ["q0", "nope"], "name": "unknown id"},
        {"type": "must_get_right", "where": "age > 1000", "name": "empty"},
        {"type": "must_get_right", "ids": [str(i) for i in df.id[wrong]], "min_accuracy": 0.0,
         "name": "lenient"},
    ])
    navc, ids, unknown, empty, lenient = run_audit(spec, df, y, p).checks
    assert (navc.passed, navc.value, navc.n, navc.threshold) == (True, 1.0, nav.sum(), 1.0)
    assert ids.passed is False
    assert ids.n == 3
    assert ids.value == pytest.approx(2 / 3)
    assert ids.detail == "1 wrong of 3"
    assert unknown.passed is False
    assert "1 of the ids are not in the data" in unknown.detail
    assert (empty.passed, empty.n) == (False, 0)
    assert lenient.passed is True


def test_regression_metrics_and_undefined_values() -> None:
    df = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50})
    rng = np.random.default_rng(4)
    y = rng.normal(size=100)
    p = y + rng.normal(scale=0.5, size=100)
    spec = _spec([{"type": "overall", "metric": "mae", "max": 0.5},
                  {"type": "slice", "metric": "mae", "by": "g", "max": 0.1}])
    mae, a, b = run_audit(spec, df, y, p).checks
    assert mae.value == pytest.approx(mean_absolute_error(y, p))
    assert a.value == pytest.approx(mean_absolute_error(y[:50], p[:50]))
    assert a.passed is False
    assert b.value == pytest.approx(mean_absolute_error(y[50:], p[50:]))
    assert b.slice == "g=b"
    # precision with no positive prediction is undefined: the check fails
    spec2 = _spec([{"type": "overall", "metric": "precision", "min": 0.1}])
    (c,) = run_audit(spec2, df, [0, 1] * 50, [0] * 100).checks
    assert c.passed is False
    assert c.value is None
    assert "undefined" in c.detail


@pytest.mark.parametrize(("raw", "message"), [
    ({"name": "x", "checks": [{"type": "overall", "metric": "acc", "min": 0.5}]},
     "checks[0].metric = 'acc': unknown metric; allowed: accuracy, error_rate"),
    ({"name": "x", "checks": [{"type": "overal", "metric": "accuracy", "min": 0.5}]},
     "checks[0].type = 'overal' is not allowed; allowed: 'overall', 'slice', 'max_gap'"),
    ({"name": "x", "checks": [{"type": "overall", "metric": "accuracy", "min": 1, "foo": 1}]},
     "checks[0].foo is not a known key; allowed keys: name, min_support, metric, min, max"),
    ({"name": "x", "checks": [{"type": "overall", "metric": "accuracy"}]},
     "give exactly one of min: (higher is better) or max: (lower is better)"),
    ({"name": "x", "checks": [{"type": "max_gap", "metric": "recall", "attribute": "g",
                               "max_gap": -1}]},
     "checks[0].max_gap = -1: Input should be greater than or equal to 0"),
    ({"checks": [{"type": "overall", "metric": "recall[1]", "min": 0.5}]}, "name is missing"),
    ([1, 2], "must be a mapping"),
])
def test_spec_errors_name_key_value_and_allowed(raw: object, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_audit_spec(raw, "audit.yaml")
    assert message in err.value.message
    assert err.value.message.startswith("audit.yaml")


def test_load_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "audit.yaml"
    path.write_text("name: release\nchecks:\n  - {type: overall, metric: 'recall[1]', min: 0.5}\n")
    spec = load_audit_spec(path)
    assert spec.name == "release"
    assert spec.to_config() == {"name": "release", "description": "", "id_column": "id",
                                "min_support": 30, "checks": [
                                    {"type": "overall", "metric": "recall[1]", "min": 0.5}]}
    assert parse_audit_spec(spec.to_config()) == spec  # the stored form reads back
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        load_audit_spec(tmp_path / "bad.yaml")
    with pytest.raises(ValidationError, match="does not exist"):
        load_audit_spec(tmp_path / "missing.yaml")


def test_unknown_columns_and_length_mismatch() -> None:
    df, y, p = _data(n=100)
    with pytest.raises(ValidationError, match="attribute 'race' is not a column"):
        run_audit(_spec([{"type": "max_gap", "metric": "accuracy", "attribute": "race",
                          "max_gap": 0.1}]), df, y, p)
    with pytest.raises(ValidationError, match="differ in number"):
        run_audit(_spec([{"type": "overall", "metric": "accuracy", "min": 0.1}]), df, y[:5], p)


# -- the deployment gate, on the real store (SQLite and PostgreSQL) ---------------------------

SPEC = {"name": "release", "checks": [{"type": "overall", "metric": "accuracy", "min": 0.9}]}


def _result(store: Database, version: str, accuracy_ok: bool, name: str = "release") -> None:
    spec = parse_audit_spec({**SPEC, "name": name})
    y = np.array([1, 0] * 10)
    p = y.copy() if accuracy_ok else 1 - y
    save_audit_result(store, "m", version, run_audit(spec, pd.DataFrame(index=range(20)), y, p))


def test_gate_without_an_attached_audit_lets_everything_through(store: Database) -> None:
    store.models.ensure_model("m")
    check_deploy_gate(store, "m", "v1")
    check_deploy_gate(store, "unknown-model", "v1")
    _result(store, "v1", accuracy_ok=False)  # a result alone does not gate
    check_deploy_gate(store, "m", "v1")


def test_gate_refuses_missing_and_failed_audits(store: Database) -> None:
    store.models.ensure_model("m", config={"owner": "team-a"})
    attach_audit(store, "m", parse_audit_spec(SPEC))
    model = store.models.get_model("m")
    assert model is not None
    assert model.config["owner"] == "team-a"  # attaching keeps the rest of the config
    assert model.config["audit"]["name"] == "release"

    with pytest.raises(ForbiddenError) as missing:
        check_deploy_gate(store, "m", "v1")
    assert "has no result of its audit 'release'" in missing.value.message
    assert "rampup audit m@v1" in (missing.value.fix or "")

    _result(store, "v1", accuracy_ok=False)
    with pytest.raises(ForbiddenError) as failed:
        check_deploy_gate(store, "m", "v1")
    assert "failed its audit 'release'" in failed.value.message
    assert "accuracy >= 0.9" in failed.value.message
    assert failed.value.fix == "fix the model or pass --force"
    assert failed.value.to_dict()["failed_checks"] == ["accuracy >= 0.9"]

    _result(store, "v1", accuracy_ok=True, name="another audit")  # not the attached one
    with pytest.raises(ForbiddenError):
        check_deploy_gate(store, "m", "v1")
    _result(store, "v1", accuracy_ok=True)  # the latest result of the attached audit counts
    check_deploy_gate(store, "m", "v1")
    _result(store, "v1", accuracy_ok=False)
    with pytest.raises(ForbiddenError):
        check_deploy_gate(store, "m", "v1")
    _result(store, "v2", accuracy_ok=True)  # results are per version
    check_deploy_gate(store, "m", "v2")
    assert store.events.list_events("m") == []  # nothing forced so far


def test_forcing_the_gate_is_recorded(store: Database) -> None:
    store.models.ensure_model("m")
    attach_audit(store, "m", parse_audit_spec(SPEC))
    _result(store, "v1", accuracy_ok=False)
    check_deploy_gate(store, "m", "v1", force=True, actor="alice")
    check_deploy_gate(store, "m", "v2", force=True, actor="bob")
    events = store.events.list_events("m")
    assert [(e.actor, e.action, e.version) for e in events] == [
        ("bob", "audit_gate_forced", "v2"), ("alice", "audit_gate_forced", "v1")]
    assert events[0].details["reason"] == "missing"
    assert events[1].details["reason"] == "failed"
    assert events[1].details["failed_checks"] == ["accuracy >= 0.9"]
    assert events[1].details["audit"] == "release"
