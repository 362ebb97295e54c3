"""``rampup errors / audit / labels / split`` through typer's CliRunner, on the real store."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner, Result

from rampup.analysis.audit import check_deploy_gate
from rampup.analysis.baselines import load_baseline
from rampup.cli import _root, modules, quality_cmds, registry_cmds
from rampup.errors import ForbiddenError
from rampup.store import Database


class Cli:
    """``rampup --project DIR --database-url URL ...`` with the quality and registry commands."""

    def __init__(self, project: Path, db_url: str) -> None:
        self.project, self.db_url = project, db_url
        self.app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
        self.app.callback()(_root)
        quality_cmds.register(self.app)
        registry_cmds.register(self.app)

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(
            self.app, ["--project", str(self.project), "--database-url", self.db_url, *args],
            env={"COLUMNS": "200"})


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    project = tmp_path / "project"
    project.mkdir()
    return Cli(project, db_url)


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"id": np.arange(n), "x1": rng.normal(size=n), "x2": rng.normal(size=n),
                       "gender": rng.choice(["f", "m"], n),
                       "query_type": rng.choice(["nav", "info"], n, p=[0.2, 0.8])})
    df["y"] = (df.x1 + 0.5 * df.x2 + rng.normal(scale=0.7, size=n) > 0).astype(int)
    return df


def test_quality_commands_are_in_the_cli() -> None:
    assert quality_cmds in modules.ALL


def test_audit_stores_a_failing_result_and_gates_deployment(cli: Cli, tmp_path: Path) -> None:
    train = _frame(400, 0)
    model = LogisticRegression().fit(train[["x1", "x2"]], train.y)
    joblib.dump(model, tmp_path / "model.joblib")
    train[["x1", "x2", "y"]].to_csv(tmp_path / "train.csv", index=False)
    registered = cli("register", "loan", str(tmp_path / "model.joblib"), "--reference",
                     str(tmp_path / "train.csv"), "--label-column", "y")
    assert registered.exit_code == 0, registered.output
    holdout = _frame(500, 1)
    holdout.to_csv(tmp_path / "holdout.csv", index=False)
    spec = tmp_path / "audit.yaml"
    spec.write_text("""name: release
min_support: 50
checks:
  - {type: overall, metric: accuracy, min: 0.6}
  - {type: slice, metric: recall, by: gender, min: 0.5}
  - {type: max_gap, metric: accuracy, attribute: gender, max_gap: 0.2}
  - {type: must_get_right, name: navigational, where: "query_type == 'nav'"}
""")
    result = cli("audit", "loan@v1", "--spec", str(spec), "--data", str(tmp_path / "holdout.csv"),
                 "--label-column", "y", "--attach")
    assert result.exit_code == 1, result.output  # the model is not perfect on navigational
    assert "Audit 'release': FAILED" in result.output
    assert "navigational" in result.output
    assert "FAIL" in result.output
    assert "pass" in result.output

    store = Database.open(cli.db_url)
    try:
        [rec] = store.evaluations.list_evaluations("loan", "v1", kind="audit")
        assert rec.passed is False
        assert rec.name == "release"
        assert rec.summary["failed"] == ["navigational"]
        assert len(rec.result["checks"]) == 5  # overall, recall per gender (2), gap, must
        model_rec = store.models.get_model("loan")
        assert model_rec is not None
        assert model_rec.config["audit"]["name"] == "release"
        with pytest.raises(ForbiddenError, match=r"failed its audit 'release'.*navigational"):
            check_deploy_gate(store, "loan", "v1")
    finally:
        store.close()

    # the same audit on predictions given in a column, as JSON, without storing
    holdout["p"] = holdout.y
    holdout.to_csv(tmp_path / "perfect.csv", index=False)
    ok = cli("audit", "loan@v1", "--spec", str(spec), "--data", str(tmp_path / "perfect.csv"),
             "--label-column", "y", "--prediction-column", "p", "--no-store", "--format",
             "json")
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["data"]["audit"]["passed"] is True
    assert [c["passed"] for c in doc["data"]["audit"]["checks"]] == [True] * 5

    bad = cli("audit", "loan@v9", "--spec", str(spec), "--data", str(tmp_path / "holdout.csv"),
              "--label-column", "y")
    assert bad.exit_code == 2
    assert "no version 'v9'" in bad.output


def test_audit_spec_errors_are_reported(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "audit.yaml"
    spec.write_text("name: x\nchecks:\n  - {type: overall, metric: acc, min: 0.5}\n")
    out = cli("audit", "loan@v1", "--spec", str(spec), "--data", "x.csv", "--label-column", "y")
    assert out.exit_code == 2
    assert "checks[0].metric = 'acc': unknown metric; allowed: accuracy" in out.output


def test_errors_table_with_tags_baseline_column_and_discovery(cli: Cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    n = 3000
    df = pd.DataFrame({"id": np.arange(n), "noisy": rng.random(n) < 0.2,
                       "device": rng.choice(["ios", "web"], n), "age": rng.uniform(18, 80, n)})
    df["y"] = rng.integers(0, 2, n)
    weak = (df.device == "web").to_numpy() & (df.age > 65).to_numpy()
    wrong = rng.random(n) < np.where(weak, 0.45, np.where(df.noisy, 0.2, 0.05))
    df["p"] = np.where(wrong, 1 - df.y, df.y)
    df["old"] = np.where(rng.random(n) < 0.1, 1 - df.y, df.y)
    df.to_csv(tmp_path / "preds.csv", index=False)
    (tmp_path / "tags.csv").write_text("id,tag\n0,checked\n1,checked\n")
    out = cli("errors", "--data", str(tmp_path / "preds.csv"), "--label-column", "y",
              "--prediction-column", "p", "--tags", "noisy", "--tag-file",
              str(tmp_path / "tags.csv"), "--id-column", "id", "--baseline-column", "old",
              "--discover", "--feature", "device", "--feature", "age",
              "-o", str(tmp_path / "errors.json"))
    assert out.exit_code == 0, out.output
    assert "Tags, most to gain first" in out.output
    doc = json.loads((tmp_path / "errors.json").read_text())
    table = doc["data"]["error_analysis"]
    rows = {r["tag"]: r for r in table["tags"]}
    assert rows["noisy"]["n"] == int(df.noisy.sum())
    assert rows["noisy"]["errors"] == int(wrong[df.noisy.to_numpy()].sum())
    assert rows["checked"]["n"] == 2
    old_wrong = (df.old != df.y).to_numpy()
    assert rows["noisy"]["baseline_error_rate"] == pytest.approx(
        old_wrong[df.noisy.to_numpy()].mean())
    found = [f["slice"] for f in doc["data"]["discovery"]["findings"]]
    assert any("device=web" in s and "age>" in s for s in found)
    assert table["tags"][0]["tag"] in found  # the planted slice has the most to gain

    md = cli("errors", "--data", str(tmp_path / "preds.csv"), "--label-column", "y",
             "--prediction-column", "p", "--tags", "device", "--format", "md")
    assert md.exit_code == 0, md.output
    assert "| device=web |" in md.stdout


def test_labels_report_and_human_baseline_for_errors(cli: Cli, tmp_path: Path) -> None:
    rows = []
    for item in range(20):
        hard = item < 5
        for a in ("ann1", "ann2", "ann3"):
            label = "cat" if item % 2 else "dog"
            if hard and a == "ann3":
                label = "uncertain"
            rows.append({"item": item, "annotator": a, "label": label, "hard": hard})
    pd.DataFrame(rows).to_csv(tmp_path / "ratings.csv", index=False)
    out = cli("labels", str(tmp_path / "ratings.csv"), "--tags", "hard",
              "--baseline-for", "loan")
    assert out.exit_code == 0, out.output
    assert "Fleiss' kappa" in out.output
    assert "Krippendorff" in out.output
    assert "Most disputed items" in out.output
    store = Database.open(cli.db_url)
    try:
        human = load_baseline(store, "loan", "human")
    finally:
        store.close()
    assert human.kind == "human"
    # leave-one-out majority: on hard items ann1 and ann2 face a tie (the other two
    # disagree), so only ann3 is scored there, against two agreeing peers, and is wrong
    assert human.error_rates["hard"] == 1.0
    assert human.counts["hard"] == 5
    assert human.error_rates["overall"] == pytest.approx(5 / 50)  # 45 easy + 5 hard

    js = cli("labels", str(tmp_path / "ratings.csv"), "--format", "json")
    doc = json.loads(js.stdout)
    assert doc["data"]["labels"]["n_items"] == 20
    assert doc["data"]["labels"]["uncertain_share"] == pytest.approx(5 / 60)

    # the stored human baseline drives the error analysis: a tag humans disagree on → relabel
    preds = pd.DataFrame({"y": [0, 1] * 50, "hard": [True] * 30 + [False] * 70})
    preds["p"] = preds.y
    preds.loc[:9, "p"] = 1 - preds.y[:10]
    preds.to_csv(tmp_path / "p.csv", index=False)
    err = cli("errors", "--data", str(tmp_path / "p.csv"), "--label-column", "y",
              "--prediction-column", "p", "--tags", "hard", "--model", "loan", "--baseline",
              "human", "--format", "json")
    assert err.exit_code == 0, err.output
    [row] = json.loads(err.stdout)["data"]["error_analysis"]["tags"]
    assert row["baseline_error_rate"] == 1.0
    assert row["action"] == "relabel"  # humans never agree with their peers on 'hard'

    missing = cli("labels", str(tmp_path / "ratings.csv"), "--item-column", "example")
    assert missing.exit_code == 2
    assert "item column 'example' is not in the data" in missing.output


def test_split_writes_files_and_a_report(cli: Cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 2000
    df = pd.DataFrame({"user": rng.integers(0, 300, n), "region": rng.choice(["n", "s"], n),
                       "y": rng.choice([0, 1], n, p=[0.9, 0.1])})
    df.to_csv(tmp_path / "all.csv", index=False)
    out = cli("split", str(tmp_path / "all.csv"), "--label-column", "y", "--slice", "region",
              "--group-column", "user", "--seed", "3", "-o", str(tmp_path / "splits"))
    assert out.exit_code == 0, out.output
    assert "Each slice's share of each split" in out.output
    parts = {name: pd.read_csv(tmp_path / "splits" / f"{name}.csv")
             for name in ("train", "dev", "test")}
    assert sum(len(p) for p in parts.values()) == n
    users = [set(p.user) for p in parts.values()]
    assert not users[0] & users[1]
    assert not users[0] & users[2]
    assert not users[1] & users[2]
    assert abs(len(parts["train"]) / n - 0.6) < 0.05
    report = json.loads((tmp_path / "splits" / "split_report.json").read_text())
    assert report["groups"] == df.user.nunique()
    assert {r["column"] for r in report["slices"]} == {"y", "region"}

    two = cli("split", str(tmp_path / "all.csv"), "--label-column", "y", "--ratios", "80,20",
              "-o", str(tmp_path / "two"))
    assert two.exit_code == 0, two.output
    assert abs(len(pd.read_csv(tmp_path / "two" / "test.csv")) - 400) <= 2  # 1 per stratum
    bad = cli("split", str(tmp_path / "all.csv"), "--label-column", "y", "--ratios", "100",
              "-o", str(tmp_path / "x"))
    assert bad.exit_code == 2
    assert "two or more positive numbers" in bad.output
