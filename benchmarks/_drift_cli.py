"""Whole-process time of ``rampup drift --reference --current`` (issue 18), with hyperfine.

Data: 100,000 + 100,000 rows x 20 float columns in Parquet (seeded; three columns
shifted by 0.05 sd). Each command is a fresh process, timed by hyperfine from spawn to
exit; the commands run in interleaved rounds (each round runs every command
``--runs`` times) and the table shows the median over all runs. Rows:

* ``python -c pass``: the interpreter alone;
* ``rampup drift`` (the default: per-feature tests plus the multivariate test, a quadratic
  discriminant in NumPy): target 1.5 s on an idle machine;
* ``rampup drift --multivariate-model hgb``: the scikit-learn gradient-boosting domain
  classifier instead (scikit-learn imported in a worker process beside the feature tests);
* ``rampup drift --no-multivariate``: the per-feature tests alone;
* ``scipy ks_2samp per column``: the fastest correct baseline we can run in the same
  environment (pandas reads the files, SciPy tests each column, no report);
* Evidently's DataDriftPreset, when ``--evidently-python`` names an interpreter that has
  Evidently (a scratch venv outside this repository: it is no dependency): target
  rampup at least 6x faster as a whole process.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TARGET_S = 1.5
EVIDENTLY_FACTOR = 6.0

SCIPY_BASELINE = """
import sys
import pandas as pd
from scipy import stats
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
for c in ref.columns:
    r = stats.ks_2samp(ref[c].to_numpy(), cur[c].to_numpy())
    print(c, r.statistic, r.pvalue)
"""

EVIDENTLY = """
import sys
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
snapshot = Report([DataDriftPreset()]).run(cur, ref)
print(len(snapshot.dict()["metrics"]))
"""


def make_data(folder: Path, rows: int = 100_000, columns: int = 20) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(18)
    ref = pd.DataFrame({f"x{j:02d}": rng.normal(0, 1, rows) for j in range(columns)})
    cur = pd.DataFrame({f"x{j:02d}": rng.normal(0.05 if j < 3 else 0.0, 1, rows)
                        for j in range(columns)})
    paths = folder / "reference.parquet", folder / "current.parquet"
    ref.to_parquet(paths[0], index=False)
    cur.to_parquet(paths[1], index=False)
    return paths


def commands(rampup: list[str], ref: Path, cur: Path, folder: Path,
             evidently_python: str | None) -> dict[str, str]:
    def sh(argv: list[str]) -> str:
        return " ".join(f"'{a}'" for a in argv)

    (folder / "scipy_ks.py").write_text(SCIPY_BASELINE)
    out = {
        "python -c pass": sh([sys.executable, "-c", "pass"]),
        "rampup drift": sh([*rampup, "drift", "--reference", str(ref), "--current", str(cur)]),
        "rampup drift --multivariate-model hgb": sh([*rampup, "drift", "--reference", str(ref),
                                                     "--current", str(cur),
                                                     "--multivariate-model", "hgb"]),
        "rampup drift --no-multivariate": sh([*rampup, "drift", "--reference", str(ref),
                                              "--current", str(cur), "--no-multivariate"]),
        "scipy ks_2samp per column": sh([sys.executable, str(folder / "scipy_ks.py"),
                                         str(ref), str(cur)]),
    }
    if evidently_python:
        (folder / "evidently_drift.py").write_text(EVIDENTLY)
        out["evidently DataDriftPreset"] = sh([evidently_python,
                                               str(folder / "evidently_drift.py"), str(ref),
                                               str(cur)])
    return out


def hyperfine(cmds: dict[str, str], runs: int, out: Path) -> dict[str, list[float]]:
    argv = ["hyperfine", "--style", "none", "--warmup", "0", "--runs", str(runs),
            "--export-json", str(out)]
    for name, cmd in cmds.items():
        argv += ["-n", name, cmd]
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=3600)
    doc = json.loads(out.read_text())
    return {r["command"]: list(r["times"]) for r in doc["results"]}


def measure(rampup: list[str], *, rounds: int = 3, runs: int = 2,
            evidently_python: str | None = None) -> dict[str, Any]:
    """Median seconds per command over ``rounds`` x ``runs`` fresh processes."""
    if shutil.which("hyperfine") is None:
        raise RuntimeError("hyperfine is not installed (apt-get install hyperfine)")
    with tempfile.TemporaryDirectory(prefix="rampup-drift-cli-") as tmp_name:
        tmp = Path(tmp_name)
        ref, cur = make_data(tmp)
        cmds = commands(rampup, ref, cur, tmp, evidently_python)
        subprocess.run(cmds["rampup drift"], shell=True, check=True,
                       capture_output=True, timeout=600)  # first run: page cache, .pyc
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for k in range(rounds):
            names = list(cmds)[k % len(cmds):] + list(cmds)[:k % len(cmds)]  # rotate
            got = hyperfine({n: cmds[n] for n in names}, runs, tmp / f"round{k}.json")
            for name, ts in got.items():
                times[name].extend(ts)
    return {name: {"median_s": statistics.median(ts), "min_s": min(ts), "runs": len(ts)}
            for name, ts in times.items()}


def verdicts(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets on a measured result.

    >>> r = {"rampup drift": {"median_s": 1.2}, "evidently DataDriftPreset": {"median_s": 9.0}}
    >>> [(v["name"], round(v["measured"], 1), v["passed"]) for v in verdicts(r)]
    [('rampup drift whole process', 1.2, True), ('evidently / rampup', 7.5, True)]
    """
    ours = result["rampup drift"]["median_s"]
    out = [{"name": "rampup drift whole process", "measured": ours, "goal": f"<= {TARGET_S} s",
            "passed": ours <= TARGET_S}]
    if "evidently DataDriftPreset" in result:
        ratio = result["evidently DataDriftPreset"]["median_s"] / ours
        out.append({"name": "evidently / rampup", "measured": ratio,
                    "goal": f">= {EVIDENTLY_FACTOR:g}x", "passed": ratio >= EVIDENTLY_FACTOR})
    return out
