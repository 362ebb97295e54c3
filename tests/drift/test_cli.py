"""``rampup drift`` in raw-file mode through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rampup.cli import app

runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"age": rng.normal(40, 10, 4000),
                        "city": rng.choice(["a", "b", "c"], 4000, p=[0.5, 0.3, 0.2]),
                        "score": rng.normal(0, 1, 4000)})
    cur = pd.DataFrame({"age": rng.normal(44, 10, 1500),
                        "city": rng.choice(["a", "b", "c", "d"], 1500, p=[0.4, 0.3, 0.2, 0.1]),
                        "score": rng.normal(0, 1, 1500)})
    for df in (ref, cur):
        df["y"] = (df["age"] > 42).astype(int)
        df["pred"] = (df["age"] + rng.normal(0, 5, len(df)) > 42).astype(int)
    a, b = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    ref.to_parquet(a)
    cur.to_csv(b, index=False)
    return a, b


def invoke(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["-p", str(tmp_path), "drift", *args])
    return result.exit_code, result.output


def test_table(tmp_path: Path, files: tuple[Path, Path]) -> None:
    code, out = invoke(tmp_path, "--reference", str(files[0]), "--current", str(files[1]),
                       "-l", "y", "--prediction-column", "pred", "--windows", "3")
    assert code == 0, out
    assert "drift in 2 of 3 features: age, city" in out
    assert "unseen categories: 'd'" in out
    assert "y (label)" in out
    assert "pred (output)" in out
    assert "multivariate: quadratic discriminant AUC" in out
    assert "Trend over 3 windows" in out
    assert "Performance" in out


def test_json_html_and_exit_code(tmp_path: Path, files: tuple[Path, Path]) -> None:
    html = tmp_path / "report.html"
    code, out = invoke(tmp_path, "--reference", str(files[0]), "--current", str(files[1]),
                       "--json", "--html", str(html), "--no-multivariate",
                       "--correction", "bonferroni", "--min-effect", "numeric=0.5",
                       "--fail-on-drift")
    assert code == 1  # drift found
    data = json.loads(out[out.index("{"):])
    rep = data["report"]
    assert rep["correction"] == "bonferroni"
    assert rep["drifted_features"] == ["city"]  # age moved 0.4 sd, below the 0.5 asked
    age = next(r for r in rep["results"] if r["feature"] == "age")
    assert (age["verdict"], age["min_effect"]) == ("significant, small", 0.5)
    assert data["metrics"]["drift.feature[city].effect"] > 0.05
    assert rep["multivariate"] is None
    assert html.read_text().count("<svg") == 5  # age, city, score, y, pred


def test_errors(tmp_path: Path, files: tuple[Path, Path]) -> None:
    code, out = invoke(tmp_path, "--reference", str(files[0]))
    assert code == 2
    assert "needs both --reference and --current" in out
    code, out = invoke(tmp_path, "--reference", str(files[0]), "--current", str(files[1]),
                       "--min-effect", "numeric")
    assert code == 2
    assert "KEY=NUMBER" in out
    code, out = invoke(tmp_path, "m", "--window", "1h", "--since", "2h")
    assert code == 2
    assert "not both" in out
    code, out = invoke(tmp_path)
    assert code == 2
    assert "name the model" in out
    code, out = invoke(tmp_path, "nosuch", "--window", "1h")
    assert code == 2
    assert "has no versions" in out
