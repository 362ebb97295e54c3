"""``predict-batch`` with its input, output and errors files in an S3 bucket (moto's real
server on 127.0.0.1): the same files as a local run, the errors file next to the output
URL, a stale one removed, a missing input named."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import s3fs

from rampup.store import Database
from tests.batch.conftest import make_frame
from tests.batch.test_cli import Cli, cli  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("s3_bucket")


def _fs() -> s3fs.S3FileSystem:
    return s3fs.S3FileSystem(skip_instance_cache=True)


def test_input_output_and_errors_live_in_the_bucket(
        cli: Cli, store: Database, tmp_path: Path, s3_bucket: str) -> None:  # noqa: F811
    df = make_frame(60, seed=41).drop(columns="y").astype(object)
    df.loc[7, "age"] = "old"
    df.to_csv(tmp_path / "in.csv", index=False)
    fs = _fs()
    fs.put_file(str(tmp_path / "in.csv"), f"{s3_bucket}/data/in.csv")
    local = cli("predict-batch", "credit", str(tmp_path / "in.csv"),
                "-o", str(tmp_path / "local.parquet"), "--chunk-size", "25")
    assert local.exit_code == 0, local.output

    url = f"s3://{s3_bucket}/scores/out.parquet"
    result = cli("predict-batch", "credit", f"s3://{s3_bucket}/data/in.csv", "-o", url,
                 "--chunk-size", "25")
    assert result.exit_code == 0, result.output
    assert "1 row(s) failed" in result.output
    with fs.open(f"{s3_bucket}/scores/out.parquet", "rb") as f:
        remote = pd.read_parquet(f)
    expected = pd.read_parquet(tmp_path / "local.parquet")
    pd.testing.assert_frame_equal(remote.drop(columns="prediction_id"),
                                  expected.drop(columns="prediction_id"))
    errors = pd.read_csv(io.BytesIO(fs.cat_file(f"{s3_bucket}/scores/out.errors.csv")))
    assert errors["row"].tolist() == [8]
    assert store.predictions.count_predictions("credit", role="batch") == 2 * 59

    # a clean run over the same output URL removes the stale errors file
    df.loc[7, "age"] = 40
    df.to_csv(tmp_path / "clean.csv", index=False)
    again = cli("predict-batch", "credit", str(tmp_path / "clean.csv"), "-o", url)
    assert again.exit_code == 0, again.output
    assert not _fs().exists(f"{s3_bucket}/scores/out.errors.csv")


def test_a_missing_input_url_is_named(cli: Cli, tmp_path: Path,  # noqa: F811
                                      s3_bucket: str) -> None:
    result = cli("predict-batch", "credit", f"s3://{s3_bucket}/nope.csv",
                 "-o", str(tmp_path / "out.parquet"))
    assert result.exit_code != 0
    assert f"s3://{s3_bucket}/nope.csv does not exist" in result.output
    assert not (tmp_path / "out.parquet").exists()
