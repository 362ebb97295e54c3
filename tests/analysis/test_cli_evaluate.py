"""``rampup evaluate`` and ``rampup compare`` through typer's CliRunner, with real models."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from typer.testing import CliRunner, Result

from rampup.cli import _root, analysis_cmds, modules
from rampup.config import load_settings
from rampup.registry import Registry
from rampup.store import Database


def loans(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"income": rng.normal(50, 15, n), "age": rng.integers(18, 80, n),
                       "city": rng.choice(["oslo", "rome", "lima"], n)})
    logit = 0.06 * (df["income"] - 50) - 0.03 * (df["age"] - 45)
    df["default"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return df


@dataclass
class Project:
    root: Path
    holdout: Path
    frame: pd.DataFrame
    models: dict[str, LogisticRegression]

    def __call__(self, *args: str) -> Result:
        app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        app.callback()(_root)
        analysis_cmds.register(app)
        return CliRunner().invoke(app, ["--project", str(self.root), *args],
                                  env={"COLUMNS": "200"})

    def store(self) -> Database:
        return Database.open(load_settings(self.root)[0].resolved_database_url)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Two versions of a loan model (v1 sees only age, v2 income and age) in a project."""
    root = tmp_path / "project"
    root.mkdir()
    train = loans(800, 1)
    features = ["income", "age"]
    train.to_parquet(root / "train.parquet")
    settings = load_settings(root)[0]
    store = Database.open(settings.resolved_database_url)
    registry = Registry.from_settings(settings, store)
    models = {}
    for version, used in (("v1", ["age"]), ("v2", features)):
        model = LogisticRegression().fit(train[used], train["default"])
        joblib.dump(model, root / f"{version}.joblib")
        registry.register("loan", root / f"{version}.joblib", version=version,
                          reference=train[[*features, "default"]], label_column="default")
        models[version] = model
    store.close()
    holdout = loans(600, 2)
    holdout.to_parquet(root / "holdout.parquet")
    return Project(root, root / "holdout.parquet", holdout, models)


def test_analysis_commands_are_in_the_cli() -> None:
    assert analysis_cmds in modules.ALL


def test_evaluate_prints_writes_and_stores(project: Project) -> None:
    out = project.root / "report.html"
    result = project("evaluate", "loan@v2", "--data", str(project.holdout), "--label-column",
                     "default", "--slice", "city", "--slice", "age >= 60", "-o", str(out))
    assert result.exit_code == 0, result.output
    expected = accuracy_score(project.frame["default"],
                              project.models["v2"].predict(project.frame[["income", "age"]]))
    assert "accuracy" in result.output
    assert f"{expected:.4g}" in result.output
    assert "majority baseline" in result.output
    assert "stored as evaluation #1" in result.output
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "by city" in html
    assert "age &gt;= 60" in html  # the expression is escaped like any value
    store = project.store()
    [ev] = store.evaluations.list_evaluations("loan", "v2")
    store.close()
    assert (ev.kind, ev.name, ev.actor) == ("evaluation", "holdout.parquet", "cli")
    assert ev.summary["accuracy"] == pytest.approx(expected)
    assert ev.summary["n"] == 600
    assert ev.result["confusion_matrix"]
    assert ev.result["slices"]["slices"][0]["grouping"] == "city"


def test_evaluate_json_to_stdout_without_storing(project: Project) -> None:
    result = project("evaluate", "loan@v1", "-d", str(project.holdout), "-l", "default",
                     "--format", "json", "--no-store", "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["data"]["kind"] == "classification"
    assert doc["data"]["n"] == 600
    assert doc["data"]["roc_auc"] is not None
    store = project.store()
    assert store.evaluations.list_evaluations("loan") == []
    store.close()


def test_evaluate_from_a_prediction_column(project: Project) -> None:
    frame = project.frame.assign(pred=project.models["v1"].predict(project.frame[["age"]]))
    path = project.root / "scored.csv"
    frame.to_csv(path, index=False)
    result = project("evaluate", "loan@v1", "-d", str(path), "-l", "default",
                     "--prediction-column", "pred", "--format", "md", "--no-store")
    assert result.exit_code == 0, result.output
    assert "# Evaluation of loan@v1 (pred) on scored.csv" in result.stdout


def test_compare_runs_both_and_keeps_the_result_with_the_challenger(project: Project) -> None:
    out = project.root / "cmp.md"
    result = project("compare", "loan@v1", "loan@v2", "--data", str(project.holdout),
                     "--label-column", "default", "--slice", "city", "--bootstrap", "200",
                     "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "McNemar" in result.output
    assert "stored as comparison #1 of loan@v2" in result.output
    text = out.read_text()
    assert "## Examples where they disagree" in text
    assert "**by city**" in text
    store = project.store()
    [cmp] = store.evaluations.list_evaluations("loan", "v2", kind="comparison")
    store.close()
    assert cmp.summary["champion"] == "loan@v1"
    assert cmp.summary["n"] == 600
    assert set(cmp.result["outcomes"]) == {"both right", "champion right", "challenger right",
                                           "both wrong"}


def test_compare_without_data_shows_stored_evaluations(project: Project) -> None:
    empty = project("compare", "loan@v1", "loan@v2")
    assert empty.exit_code == 0
    assert "no stored evaluations" in empty.output
    for v in ("v1", "v2"):
        assert project("evaluate", f"loan@{v}", "-d", str(project.holdout), "-l", "default",
                       "--bootstrap", "0").exit_code == 0
    result = project("compare", "loan@v1", "loan@v2")
    assert result.exit_code == 0, result.output
    assert "loan@v1" in result.output
    assert "loan@v2" in result.output
    assert "accuracy" in result.output
    assert "f1_macro" in result.output


def test_errors_name_the_problem_and_the_fix(project: Project) -> None:
    missing = project("evaluate", "loan@v2", "-d", str(project.holdout), "-l", "label")
    assert missing.exit_code == 2
    assert "label column 'label' is not in holdout.parquet" in missing.output
    assert "income, age, city, default" in missing.output
    unknown = project("evaluate", "loan@v9", "-d", str(project.holdout), "-l", "default")
    assert unknown.exit_code == 2
    assert "no version 'v9'" in unknown.output
    no_data = project("evaluate", "loan@v1")
    assert no_data.exit_code == 2
    assert "--data and --label-column" in no_data.output
    bad_slice = project("evaluate", "loan@v1", "-d", str(project.holdout), "-l", "default",
                        "--slice", "nope >> 2")
    assert bad_slice.exit_code == 2
    assert "slice expression" in bad_slice.output


def test_evaluate_a_regressor(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    root = tmp_path / "reg"
    root.mkdir()
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=400), "g": rng.choice(["a", "b"], 400)})
    df["y"] = 2 * df["x"] + rng.normal(0, np.where(df["g"] == "b", 1.0, 0.2))
    model = LinearRegression().fit(df[["x"]], df["y"])
    joblib.dump(model, root / "lr.joblib")
    settings = load_settings(root)[0]
    store = Database.open(settings.resolved_database_url)
    Registry.from_settings(settings, store).register(
        "price", root / "lr.joblib", reference=df[["x", "y"]], label_column="y")
    store.close()
    df.to_csv(root / "hold.csv", index=False)
    cli = Project(root, root / "hold.csv", df, {})
    result = cli("evaluate", "price@v1", "-d", str(root / "hold.csv"), "-l", "y", "-s", "g",
                 "--format", "json", "--no-store")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["data"]
    assert doc["kind"] == "regression"
    residual = model.predict(df[["x"]]) - df["y"]
    assert doc["mae"] == pytest.approx(np.abs(residual).mean())
    by_slice = {s["slice"]: s["values"]["mae"] for s in doc["slices"]["slices"]}
    assert by_slice["b"] > by_slice["a"]
