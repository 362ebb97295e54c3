"""Alert rules only on metrics that exist: refused at creation through the admin API
(both stores), the CLI and the project file, with the nearest valid names; the drift
catalogue agrees with what the drift package computes; ``rampup alerts suggest`` works
on the demo project and on the projects ``rampup init`` makes."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
import yaml
from typer.testing import CliRunner

from rampup.alerts.condition import parse_condition
from rampup.cli import app
from rampup.config import load_settings
from rampup.drift.metrics import drift_metrics
from rampup.drift.report import DriftConfig, TestResult, build_report
from rampup.errors import ValidationError
from rampup.monitor.names import DRIFT, is_known
from rampup.project import parse_project
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.alerts.test_app_alerts import AUTH, BASE, serve
from tests.rollout.conftest import MODELS
from tests.serving.conftest import Trained, trained

__all__ = ["trained"]
runner = CliRunner()


# -- the catalogue and the drift package agree ----------------------------------------------

def test_every_drift_metric_the_package_computes_is_alertable() -> None:
    """Whatever the drift package emits for a window is a name rules accept (so a rule on
    it gets values), and the window names the catalogue lists are all computable."""
    results = [
        TestResult("age", "numeric", "ks", 0.3, 0.001, 0.4, "wasserstein/std", 0.1, 500, 80),
        TestResult("output", "output", "chi2", 5.0, 0.01, 0.2, "js", 0.1, 500, 80,
                   metrics={"psi": 0.3}),
        TestResult("label", "label", "chi2", 5.0, 0.01, 0.2, "js", 0.1, 500, 80,
                   metrics={"psi": 0.1}),
    ]
    report = build_report(results, DriftConfig())
    emitted = set(drift_metrics(report))
    assert emitted, "the drift package emitted no metric"
    for name in emitted:
        assert is_known(name), f"{name} is computed but refused in alert rules"
        parse_condition(f"{name} > 0.5")
    assert {n for n in DRIFT if n.startswith("drift.")} - {"drift.label", "drift.label.psi",
                                                           "drift.output", "drift.output.psi"} \
        <= emitted


def test_multivariate_auc_refused() -> None:
    with pytest.raises(ValidationError, match="no alert source computes"):
        parse_condition("drift.multivariate.auc > 0.7")


# -- the admin API ---------------------------------------------------------------------------

async def test_http_refuses_metrics_the_model_has_not(store: Database, tmp_path: Path,
                                                      trained: Trained) -> None:
    async with serve(store, tmp_path, trained, parse_project({}), alerts=False) as c:
        cases = {
            "feature[incme].mean > 1": "model has no feature 'incme' (did you mean "
                                       "'feature[income].mean'",
            "feature[city].mean > 1": "feature 'city' is categorical: it has no 'mean'",
            "drift.feature[salary].effect > 0.5": "model has no feature 'salary'",
            "class_share[7] > 0.5": "model never predicts class '7' (its classes: 0, 1)",
            "mae > 3": "mae needs a model with numeric outputs",
            "custom[brightness].mean > 1": "no input metric 'brightness' is declared",
            "drift.multivariate.auc > 0.7": "no alert source computes",
            "drift.psi(output) > 0.2": "did you mean 'drift.output' or 'drift.output.psi'",
        }
        for i, (condition, needle) in enumerate(cases.items()):
            r = await c.post(BASE, json={"name": f"bad{i}", "condition": condition},
                             headers=AUTH)
            assert r.status_code == 422, (condition, r.text)
            body = r.json()
            assert needle in body["message"], (condition, body["message"])
            assert body["field"] == "condition"
        for i, condition in enumerate(["feature[income].mean > 1", "class_share[1] > 0.9",
                                       "drift.feature[income].effect > 0.5",
                                       "drift.share_drifted >= 0.25", "accuracy < 0.7",
                                       "concept.accuracy_drop > 0.05"]):
            r = await c.post(BASE, json={"name": f"good{i}", "condition": condition},
                             headers=AUTH)
            assert r.status_code == 201, (condition, r.text)
        names = [r["name"] for r in (await c.get(BASE, headers=AUTH)).json()["rules"]]
        assert sorted(names) == [f"good{i}" for i in range(6)]  # nothing refused was kept


# -- the CLI and the project file ------------------------------------------------------------

def _project(tmp_path: Path, trained: Trained, alerts: str = "") -> None:
    (tmp_path / "rampup.yaml").write_text("name: shop\nmodels:\n  m:\n    slo: "
                                          "{latency_p99_ms: 400}\n" + alerts)
    settings, _ = load_settings(tmp_path)
    store = Database.open(settings.resolved_database_url)
    try:
        if not store.models.list_versions("m"):
            Registry.from_settings(settings, store).register(
                "m", trained.model_path, reference=trained.reference_path, label_column="y",
                version="v1")
    finally:
        store.close()


def test_cli_add_refuses_with_nearest_names(tmp_path: Path, trained: Trained) -> None:
    _project(tmp_path, trained)
    result = runner.invoke(app, ["-p", str(tmp_path), "alerts", "add", "m", "bad", "-c",
                                 "feature[incom].missing_fraction > 0.2"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "no source computes 'feature[incom].missing_fraction' for m" in text
    assert "did you mean 'feature[income].missing_fraction'" in text
    result = runner.invoke(app, ["-p", str(tmp_path), "alerts", "add", "m", "good", "-c",
                                 "feature[income].missing_fraction > 0.2"])
    assert result.exit_code == 0, result.output


def test_project_file_rule_refused(tmp_path: Path, trained: Trained) -> None:
    _project(tmp_path, trained)
    _project(tmp_path, trained,
             "    alerts:\n      - {name: typo, condition: 'feature[z].mean > 1'}\n")
    result = runner.invoke(app, ["-p", str(tmp_path), "alerts", "list", "--json"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "models.m.alerts[typo]: no source computes 'feature[z].mean' for m" in text


# -- alerts suggest on the demo project and on what 'rampup init' makes -----------------------

def _suggest(project: Path, model: str) -> dict[str, object]:
    result = runner.invoke(app, ["-p", str(project), "alerts", "suggest", model,
                                 "--since", "1d"])
    assert result.exit_code == 0, result.output
    assert "unknown metric" not in result.output
    doc = yaml.safe_load(result.output)
    assert isinstance(doc, dict)
    return {"doc": doc, "text": result.output}


def test_suggest_on_init_projects(tmp_path: Path) -> None:
    from rampup_demo.data import FEATURES, LABEL, LoanGenerator
    from rampup_demo.train import train_model

    empty, example = tmp_path / "empty", tmp_path / "example"
    for folder, extra in ((empty, []), (example, ["--example"])):
        result = runner.invoke(app, ["init", str(folder), *extra])
        assert result.exit_code == 0, result.output
    # the plain project: a model registered without any edit of rampup.yaml
    result = runner.invoke(app, ["-p", str(empty), "register", "mine", f"{MODELS}:Healthy"])
    assert result.exit_code == 0, result.output
    _suggest(empty, "mine")
    # the example project, its model trained and registered as the scaffold says
    frame = LoanGenerator(seed=7).sample(400)
    (example / "example").mkdir(exist_ok=True)
    joblib.dump(train_model(frame[[*FEATURES, LABEL]], seed=7),
                example / "example" / "model.joblib")
    frame[[*FEATURES, LABEL]].to_parquet(example / "example" / "reference.parquet",
                                         index=False)
    result = runner.invoke(app, ["-p", str(example), "apply"])
    assert result.exit_code == 0, result.output
    out = _suggest(example, "loan-default")
    assert "# not suggested: roc_auc (an evaluation metric" in str(out["text"])


def test_suggest_on_the_demo_project(tmp_path: Path) -> None:
    from rampup_demo.runner import prepare_project

    prepare_project(tmp_path / "demo", fresh=True, rate=5.0, database_url=None)
    out = _suggest(tmp_path / "demo", "loan-default")
    assert "roc_auc" in str(out["text"])  # named as skipped, with why
