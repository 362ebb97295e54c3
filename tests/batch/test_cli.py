"""``rampup predict-batch`` through typer's CliRunner, against both stores."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

import rampup.cli
from rampup.cli import batch_cmds, modules
from rampup.registry.artifacts import ArtifactStore
from rampup.registry.registry import Registry
from rampup.store import Database
from tests.batch.conftest import FEATURES, Trained, make_frame


class Cli:
    def __init__(self, project: Path, db_url: str) -> None:
        rampup.cli._register_commands()  # idempotent
        self.project = project
        self.db_url = db_url

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(
            rampup.cli.app,
            ["--project", str(self.project), "--database-url", self.db_url, *args],
            env={"COLUMNS": "200"})


@pytest.fixture
def cli(tmp_path: Path, db_url: str, store: Database, trained: Trained) -> Cli:
    """A project whose store holds credit@v1 (artifacts in the project's default folder)."""
    registry = Registry(store, ArtifactStore(tmp_path / "artifacts"))
    registry.register("credit", trained.model_path, features=FEATURES,
                      reference=trained.frame.drop(columns="customer"), label_column="y")
    return Cli(tmp_path, db_url)


def test_the_command_is_registered_once() -> None:
    assert batch_cmds in modules.ALL
    rampup.cli._register_commands()
    names = [c.name for c in rampup.cli.app.registered_commands]
    assert names.count("predict-batch") == 1


def test_predict_batch_reports_bad_rows_and_exits_zero(cli: Cli, store: Database,
                                                       tmp_path: Path) -> None:
    df = make_frame(80, seed=20).drop(columns="y").astype(object)
    df.loc[4, "age"] = "old"
    df.loc[9, "city"] = "berlin"
    df.to_csv(tmp_path / "in.csv", index=False)
    result = cli("predict-batch", "credit", str(tmp_path / "in.csv"),
                 "-o", str(tmp_path / "scored.parquet"), "--chunk-size", "30")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "predict-batch credit" in out
    assert "78" in out
    assert "by v1" in out
    assert "rows/s" in out
    assert "2 row(s) failed" in out
    assert "customer" in out  # the warning about the id column
    errors = pd.read_csv(tmp_path / "scored.errors.csv")
    assert errors["row"].tolist() == [5, 10]
    assert errors["field"].tolist() == ["age", "city"]
    assert pq.read_metadata(tmp_path / "scored.parquet").num_rows == 78
    assert store.predictions.count_predictions("credit", role="batch") == 78


def test_parquet_options(cli: Cli, store: Database, tmp_path: Path) -> None:
    df = make_frame(50, seed=21).drop(columns="y")
    df.to_parquet(tmp_path / "in.parquet")
    result = cli("predict-batch", "credit", str(tmp_path / "in.parquet"),
                 "--output", str(tmp_path / "out" / "scored.parquet"),
                 "--errors", str(tmp_path / "bad.csv"), "--key-column", "customer",
                 "--version", "v1", "--no-log")
    assert result.exit_code == 0, result.output
    assert "errors" in result.output
    assert "none" in result.output
    assert not (tmp_path / "bad.csv").exists()
    scored = pq.read_table(tmp_path / "out" / "scored.parquet").to_pandas()
    assert scored["customer"].tolist() == df["customer"].tolist()
    assert store.predictions.count_predictions("credit") == 0


@pytest.mark.parametrize(("args", "words"), [
    (["ghost"], "'ghost' is not registered"),
    (["credit", "--key-column", "nope"], "key column 'nope'"),
    (["credit", "--version", "v7"], "no version 'v7'"),
])
def test_usage_and_config_errors_exit_2(cli: Cli, tmp_path: Path, args: list[str],
                                        words: str) -> None:
    make_frame(5, seed=22).drop(columns="y").to_csv(tmp_path / "in.csv", index=False)
    model, *rest = args
    result = cli("predict-batch", model, str(tmp_path / "in.csv"),
                 "-o", str(tmp_path / "o.parquet"), *rest)
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert "fix:" in result.output


def test_missing_input_and_missing_output_option(cli: Cli, tmp_path: Path) -> None:
    result = cli("predict-batch", "credit", str(tmp_path / "none.csv"), "-o",
                 str(tmp_path / "o.parquet"))
    assert result.exit_code == 2
    assert "does not exist" in result.output
    result = cli("predict-batch", "credit", str(tmp_path / "none.csv"))
    assert result.exit_code == 2  # typer: missing option
