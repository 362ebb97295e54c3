"""``rampup drift --reference --current`` imports only what its tests need.

Raw mode reads two files and tests them: no store (SQLAlchemy), no SciPy ``stats``
module for large samples, no Jinja2 without --html; the default multivariate test is
NumPy, and scikit-learn is imported only for a scikit-learn domain classifier
(``--multivariate-model hgb``), in a worker process beside the per-feature tests. How
long the whole command takes is measured by ``benchmarks/cli.py --drift``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rampup.drift.check import check_frames
from rampup.drift.report import DriftConfig

PROBE = """
import json, sys
sys.argv = ["rampup", *json.loads(sys.argv[1])]
from rampup.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
print("\\n@@" + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

#: never imported by raw mode in the CLI's own process
NEVER = ("sqlalchemy", "alembic", "rampup.store", "rampup.registry.registry", "sklearn",
         "scipy.stats", "jinja2", "pydantic_settings", "fastapi", "starlette")


def run(args: list[str], cwd: Path) -> tuple[int, str, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPUP_")}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=True)
    out, _, tail = done.stdout.rpartition("\n@@")
    probe = json.loads(tail)
    return probe["code"], out, set(probe["modules"])


def heavy(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in NEVER))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(3)
    n = 12_000  # above the exact KS test's limit (10,000): large samples need no scipy.stats
    ref = pd.DataFrame({f"x{j}": rng.normal(0, 1, n) for j in range(4)})
    cur = pd.DataFrame({f"x{j}": rng.normal(0.3 if j == 0 else 0, 1, n) for j in range(4)})
    cur["x3"] = -cur["x2"] + 0.1 * cur["x3"]  # a joint change only the classifier sees
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_parquet(tmp_path / "cur.parquet", index=False)
    return tmp_path / "ref.parquet", tmp_path / "cur.parquet"


def test_raw_mode_without_the_classifier_imports_no_heavy_module(
        files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    code, out, mods = run(["drift", "--reference", str(ref), "--current", str(cur),
                           "--no-multivariate"], tmp_path)
    assert code == 0, out
    assert "x0" in out  # it did test the files
    assert "drift" in out
    assert {"numpy", "pandas", "pyarrow", "scipy.special"} <= mods
    assert heavy(mods) == [], heavy(mods)


def test_raw_mode_default_joint_test_imports_no_heavy_module(
        files: tuple[Path, Path], tmp_path: Path) -> None:
    """The default multivariate test (qda) is NumPy: nothing heavy, one process."""
    ref, cur = files
    code, out, mods = run(["drift", "--reference", str(ref), "--current", str(cur),
                           "--json"], tmp_path)
    assert code == 0, out
    assert heavy(mods) == [], heavy(mods)
    doc = json.loads(out)
    expected = check_frames(pd.read_parquet(ref), pd.read_parquet(cur), config=DriftConfig())
    mv, want = doc["report"]["multivariate"], expected.report.multivariate
    assert want is not None
    assert (want.model, mv["model"]) == ("qda", "qda")
    assert want.drifted  # the joint change is found ...
    assert (mv["auc"], mv["p_value"]) == (want.auc, want.p_value)  # ... the same way
    assert doc["report"]["dataset_drift"] is True


def test_raw_mode_runs_the_classifier_in_a_worker_with_the_same_result(
        files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    code, out, mods = run(["drift", "--reference", str(ref), "--current", str(cur),
                           "--json", "--multivariate-model", "hgb"], tmp_path)
    assert code == 0, out
    if len(os.sched_getaffinity(0)) > 1:  # else the classifier runs in process
        assert heavy(mods) == [], heavy(mods)
    doc = json.loads(out)
    expected = check_frames(pd.read_parquet(ref), pd.read_parquet(cur), config=DriftConfig(),
                            multivariate_model="hgb")
    mv, want = doc["report"]["multivariate"], expected.report.multivariate
    assert want is not None
    assert want.model == "hgb"
    assert want.drifted  # the joint change is found ...
    assert (mv["auc"], mv["p_value"]) == (want.auc, want.p_value)  # ... the same way
    assert doc["report"]["dataset_drift"] is True
    assert [r["feature"] for r in doc["report"]["results"]] == [
        r.feature for r in expected.report.results]


def test_unknown_multivariate_model_names_the_choices(
        files: tuple[Path, Path], tmp_path: Path) -> None:
    ref, cur = files
    done = subprocess.run([sys.executable, "-m", "rampup", "drift", "--reference", str(ref),
                           "--current", str(cur), "--multivariate-model", "forest"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    said = " ".join((done.stdout + done.stderr).split())
    assert "forest" in said, said
    assert "hgb, logistic, qda" in said, said
