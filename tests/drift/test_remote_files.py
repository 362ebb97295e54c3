"""``rampup drift --reference/--current`` reads data files from an object store (a real S3
server, moto on 127.0.0.1) with the same result as the local copies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import s3fs
from tests.s3server import S3Server

from rampup.errors import NotFoundError
from rampup.registry.profile import read_table


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(0, 1, 800), "c": rng.choice(["a", "b"], 800)})
    cur = pd.DataFrame({"x": rng.normal(0.6, 1, 800), "c": rng.choice(["a", "b"], 800)})
    return ref, cur


def _drift(args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "rampup", "drift", *args, "--json"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out: dict[str, object] = json.loads(done.stdout)
    return out


def test_drift_reads_parquet_and_csv_from_the_bucket(
        tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> None:
    ref, cur = _frames()
    ref.to_parquet(tmp_path / "ref.parquet", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.put_file(str(tmp_path / "ref.parquet"), f"{s3_bucket}/data/ref.parquet")
    fs.put_file(str(tmp_path / "cur.csv"), f"{s3_bucket}/data/cur.csv")
    env = {**os.environ, **s3_server.env()}
    remote = _drift(["--reference", f"s3://{s3_bucket}/data/ref.parquet",
                     "--current", f"s3://{s3_bucket}/data/cur.csv"], tmp_path, env)
    local = _drift(["--reference", str(tmp_path / "ref.parquet"),
                    "--current", str(tmp_path / "cur.csv")], tmp_path, env)
    meta = remote["report"].pop("meta")  # type: ignore[attr-defined]
    local["report"].pop("meta")  # type: ignore[attr-defined]
    assert meta["reference"] == f"s3://{s3_bucket}/data/ref.parquet"
    assert remote["report"] == local["report"]
    verdicts = {r["feature"]: r["verdict"] for r in remote["report"]["results"]}  # type: ignore[index]
    assert verdicts["x"] == "drift", verdicts

    pd.testing.assert_frame_equal(read_table(f"s3://{s3_bucket}/data/ref.parquet"), ref)
    with pytest.raises(NotFoundError, match="does not exist"):
        read_table(f"s3://{s3_bucket}/data/missing.parquet")
