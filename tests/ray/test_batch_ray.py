"""``rampup predict-batch --engine ray`` through the real CLI on the session's Ray cluster:
the same output file as the local engine, the same bad rows, every row logged."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rampup.store import Database
from tests.batch.conftest import Trained, make_frame, trained  # noqa: F401 - the fixture
from tests.batch.test_cli import Cli, cli  # noqa: F401 - the fixture
from tests.ray.conftest import RayCluster

pytestmark = pytest.mark.slow  # starts Ray actors (seconds each run)


def _compare(local: Path, ray: Path) -> None:
    a, b = pq.read_table(local), pq.read_table(ray)
    assert a.schema == b.schema  # same columns, order and types
    assert b.num_rows == a.num_rows
    fa, fb = a.to_pandas(), b.to_pandas()
    assert fb["prediction_id"].is_unique
    assert set(fa["prediction_id"]).isdisjoint(fb["prediction_id"])
    pd.testing.assert_frame_equal(fa.drop(columns="prediction_id"),
                                  fb.drop(columns="prediction_id"))


def test_csv_with_bad_rows_matches_the_local_engine(
        cli: Cli, store: Database, tmp_path: Path, ray_cluster: RayCluster) -> None:  # noqa: F811
    df = make_frame(230, seed=31).drop(columns="y").astype(object)
    df.loc[4, "age"] = "old"          # in the first chunk
    df.loc[120, "city"] = "berlin"    # in a later chunk, on another worker
    df.loc[229, "income"] = None      # the last row
    text = df.to_csv(index=False).splitlines()
    text.insert(60, "c-x,1,2")        # a malformed line: data row 60
    (tmp_path / "in.csv").write_text("\n".join(text) + "\n")
    common = ["predict-batch", "credit", str(tmp_path / "in.csv"), "--chunk-size", "40"]

    local = cli(*common, "-o", str(tmp_path / "local.parquet"))
    assert local.exit_code == 0, local.output
    logged = store.predictions.count_predictions("credit", role="batch")
    result = cli(*common, "-o", str(tmp_path / "ray.parquet"), "--engine", "ray",
                 "--ray-address", ray_cluster.address, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "4 row(s) failed" in result.output

    _compare(tmp_path / "local.parquet", tmp_path / "ray.parquet")
    bad_local = pd.read_csv(tmp_path / "local.errors.csv")
    bad_ray = pd.read_csv(tmp_path / "ray.errors.csv")
    assert sorted(bad_ray["row"]) == [5, 60, 122, 231]
    key = ["row", "field"]
    pd.testing.assert_frame_equal(bad_local.sort_values(key).reset_index(drop=True),
                                  bad_ray.sort_values(key).reset_index(drop=True))
    assert logged == 227  # the local run: every good row
    assert store.predictions.count_predictions("credit", role="batch") == 2 * 227
    event = store.events.list_events(action="predict_batch")[0]
    assert event.details["engine"] == "ray"


def test_parquet_read_by_the_workers_numbers_bad_rows_in_order(
        cli: Cli, store: Database, tmp_path: Path, ray_cluster: RayCluster) -> None:  # noqa: F811
    df = make_frame(150, seed=32).drop(columns="y")
    df["age"] = df["age"].astype("float")
    df.loc[[3, 97, 149], "age"] = None  # a required feature missing
    df.to_parquet(tmp_path / "in.parquet", row_group_size=50, index=False)
    common = ["predict-batch", "credit", str(tmp_path / "in.parquet"), "--chunk-size", "30",
              "--key-column", "customer"]
    assert cli(*common, "-o", str(tmp_path / "local.parquet")).exit_code == 0
    result = cli(*common, "-o", str(tmp_path / "ray.parquet"), "--engine", "ray",
                 "--ray-address", ray_cluster.address)
    assert result.exit_code == 0, result.output
    _compare(tmp_path / "local.parquet", tmp_path / "ray.parquet")
    assert pd.read_csv(tmp_path / "ray.errors.csv")["row"].tolist() == [4, 98, 150]
    assert store.predictions.count_predictions("credit", role="batch") == 2 * 147
