"""predict_batch end to end: real pipeline, real registry, the store under test."""

from __future__ import annotations

import json
import random
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rampup.batch.runner import predict_batch
from rampup.errors import ModelError, NotFoundError, ValidationError
from rampup.project import FeatureSpec
from rampup.registry.artifacts import ArtifactStore
from rampup.registry.registry import Registry
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.router import Router
from rampup.store import Database
from tests.batch.conftest import NAMES, Trained, make_frame

# (0-based position in the frame, column, bad text) -> the field named in the errors file
BAD_CELLS = [(3, "income", "abc"), (10, "age", ""), (20, "income", "nan"),
             (21, "score", "inf"), (30, "city", "berlin"), (40, "owner", "yes"),
             (41, "age", "4.5")]


def csv_with_bad_rows(path: Path, df: pd.DataFrame) -> dict[int, str]:
    text = df.astype(object).astype(str).replace("nan", "")
    for pos, col, bad in BAD_CELLS:
        text.loc[pos, col] = bad
    text.to_csv(path, index=False)
    return {pos + 1: col for pos, col, _ in BAD_CELLS}


def read_errors(path: Path) -> dict[int, set[str]]:
    errors = pd.read_csv(path, keep_default_na=False)
    assert list(errors.columns) == ["row", "field", "reason"]
    out: dict[int, set[str]] = {}
    for row, field in zip(errors["row"], errors["field"], strict=True):
        out.setdefault(int(row), set()).add(field)
    return out


def expected_proba(model: object, df: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(df[NAMES]))[:, 1]  # type: ignore[attr-defined]


def test_csv_bad_rows_go_to_the_errors_file_and_the_rest_is_predicted(
        store: Database, registry: Registry, trained: Trained, tmp_path: Path) -> None:
    df = make_frame(120, seed=5).drop(columns="y")
    bad = csv_with_bad_rows(tmp_path / "in.csv", df)
    progress: list[tuple[int, int | None]] = []
    summary = predict_batch(store, registry, "credit", tmp_path / "in.csv",
                            tmp_path / "out.parquet", chunk_size=50,
                            progress=lambda done, total: progress.append((done, total)))

    assert (summary.rows, summary.predicted, summary.failed) == (120, 113, 7)
    assert summary.versions == {"v1": 113}
    assert summary.errors == tmp_path / "out.errors.csv"
    assert read_errors(summary.errors) == {row: {col} for row, col in bad.items()}
    reasons = pd.read_csv(summary.errors).set_index("row")["reason"]
    assert reasons[4] == "must be a number, got string 'abc'"
    assert reasons[11] == "is missing and is required"
    assert reasons[21] == "is NaN, which is not allowed"
    assert reasons[31].startswith("has value 'berlin', which is not an allowed category")
    assert any("customer" in w for w in summary.warnings)

    out = pq.read_table(summary.output).to_pandas()
    good = df.drop(index=[pos for pos, _, _ in BAD_CELLS]).reset_index(drop=True)
    assert out["customer"].tolist() == good["customer"].tolist()  # order kept
    assert out["age"].dtype == np.int64
    assert out["owner"].dtype == bool
    np.testing.assert_allclose(out["proba_1"], expected_proba(trained.model, good), rtol=1e-12)
    assert out["prediction"].tolist() == trained.model.predict(good[NAMES]).tolist()
    np.testing.assert_allclose(out["confidence"], np.maximum(out["proba_0"], out["proba_1"]))
    assert set(out["version"]) == {"v1"}
    assert out["prediction_id"].is_unique
    assert progress[0] == (0, None)
    assert progress[-1] == (120, 120)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_predictions_are_logged_with_role_batch_and_the_run_is_audited(
        store: Database, registry: Registry, tmp_path: Path) -> None:
    df = make_frame(60, seed=6).drop(columns="y")
    df.loc[2, "score"] = np.nan
    df.to_csv(tmp_path / "in.csv", index=False)
    summary = predict_batch(store, registry, "credit", tmp_path / "in.csv",
                            tmp_path / "out.parquet", chunk_size=25)
    assert summary.errors is None
    assert not (tmp_path / "out.errors.csv").exists()
    assert store.predictions.count_predictions("credit", role="batch") == 60
    out = pq.read_table(summary.output).to_pandas()
    logged = {r["id"]: r for r in store.predictions.get_predictions(out["prediction_id"].tolist())}
    assert len(logged) == 60
    third = logged[out["prediction_id"][2]]
    assert third["role"] == "batch"
    assert third["version"] == "v1"
    assert third["request_id"] == summary.request_id
    inputs = json.loads(third["inputs"])
    assert set(inputs) == set(NAMES)
    assert inputs["score"] is None
    assert inputs["age"] == int(df.loc[2, "age"])
    outputs = json.loads(third["outputs"])
    assert outputs["prediction"] == int(out["prediction"][2])
    event = next(e for e in store.events.list_events("credit") if e.action == "predict_batch")
    assert event.details["rows"] == 60
    assert event.details["versions"] == {"v1": 60}
    assert event.details["output"] == str(tmp_path / "out.parquet")


def test_parquet_keeps_its_types_and_reports_typed_problems(
        store: Database, registry: Registry, trained: Trained, tmp_path: Path) -> None:
    df = make_frame(40, seed=7).drop(columns="y")
    table = pa.Table.from_pandas(df, preserve_index=False)
    income = df["income"].to_numpy().copy()
    income[5], income[6] = np.nan, np.inf
    age = pa.array(df["age"], mask=np.arange(40) == 7)
    city = df["city"].to_numpy().copy()
    city[8] = "berlin"
    owner = pa.array(df["owner"].astype(int))  # 0/1 integers are accepted as booleans
    table = (table.set_column(table.schema.get_field_index("income"), "income",
                              pa.array(income, from_pandas=False))
             .set_column(table.schema.get_field_index("age"), "age", age)
             .set_column(table.schema.get_field_index("city"), "city", pa.array(city))
             .set_column(table.schema.get_field_index("owner"), "owner", owner))
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=15)
    summary = predict_batch(store, registry, "credit", tmp_path / "in.parquet",
                            tmp_path / "out.parquet", chunk_size=16, log=False)
    assert read_errors(tmp_path / "out.errors.csv") == {
        6: {"income"}, 7: {"income"}, 8: {"age"}, 9: {"city"}}
    reasons = pd.read_csv(tmp_path / "out.errors.csv").set_index("row")["reason"]
    assert reasons[7] == "is Infinity, which is not allowed"
    assert reasons[8] == "is null and is required"
    assert summary.predicted == 36
    out = pq.read_table(summary.output)
    assert out.schema.field("owner").type == pa.int64()  # Parquet columns pass through as is
    good = df.drop(index=[5, 6, 7, 8]).reset_index(drop=True)
    assert out.column("customer").to_pylist() == good["customer"].tolist()
    np.testing.assert_allclose(out.column("proba_1").to_numpy(),
                               expected_proba(trained.model, good), rtol=1e-12)
    assert store.predictions.count_predictions("credit") == 0  # log=False


@pytest.fixture
def canary(store: Database, registry: Registry, trained: Trained) -> DeploymentPolicy:
    """credit v1 70% / v2 30%."""
    registry.register("credit", trained.model2_path, features=None, deploy=False,
                      reference=trained.frame.drop(columns="customer"), label_column="y")
    policy = {"routes": {"v1": 70.0, "v2": 30.0}, "mirrors": {}, "standby": None}
    store.deployments.append_deployment("credit", policy, "test", reason="canary")
    return DeploymentPolicy.from_dict(policy)


def test_routing_by_key_is_sticky_like_realtime_and_proportional(
        store: Database, registry: Registry, trained: Trained, canary: DeploymentPolicy,
        tmp_path: Path) -> None:
    df = make_frame(3000, seed=8).drop(columns="y")
    df["user"] = [f"user-{i % 600}" for i in range(len(df))]
    df.to_csv(tmp_path / "in.csv", index=False)
    summary = predict_batch(store, registry, "credit", tmp_path / "in.csv",
                            tmp_path / "out.parquet", key_column="user", chunk_size=700)
    out = pq.read_table(summary.output).to_pandas()
    realtime = Router(canary)
    assert out["version"].tolist() == [realtime.route(u) for u in out["user"]]
    per_user = out.groupby("user")["version"].nunique()
    assert (per_user == 1).all()  # sticky
    share = (out.groupby("user")["version"].first() == "v2").mean()
    assert 0.22 < share < 0.38
    assert summary.versions == {"v1": int((out["version"] == "v1").sum()),
                                "v2": int((out["version"] == "v2").sum())}
    for version, model in (("v1", trained.model), ("v2", trained.model2)):
        rows = out[out["version"] == version]
        np.testing.assert_allclose(rows["proba_1"], expected_proba(model, rows), rtol=1e-12)
    logged = store.predictions.get_predictions(out["prediction_id"][:5].tolist())
    assert {r["request_key"] for r in logged} == set(out["user"][:5])


def test_without_a_key_rows_are_spread_at_random(
        store: Database, registry: Registry, canary: DeploymentPolicy, tmp_path: Path) -> None:
    make_frame(4000, seed=9).drop(columns="y").to_parquet(tmp_path / "in.parquet")
    summary = predict_batch(store, registry, "credit", tmp_path / "in.parquet",
                            tmp_path / "out.parquet", log=False, rng=random.Random(3))
    assert 0.27 < summary.versions["v2"] / summary.rows < 0.33


def test_a_pinned_version_answers_every_row(
        store: Database, registry: Registry, trained: Trained, canary: DeploymentPolicy,
        tmp_path: Path) -> None:
    df = make_frame(200, seed=10).drop(columns="y")
    df.to_parquet(tmp_path / "in.parquet")
    summary = predict_batch(store, registry, "credit", tmp_path / "in.parquet",
                            tmp_path / "out.parquet", version="v2", log=False)
    assert summary.versions == {"v2": 200}
    out = pq.read_table(summary.output).to_pandas()
    np.testing.assert_allclose(out["proba_1"], expected_proba(trained.model2, df), rtol=1e-12)
    with pytest.raises(NotFoundError, match="no version 'v9'"):
        predict_batch(store, registry, "credit", tmp_path / "in.parquet",
                      tmp_path / "out2.parquet", version="v9")
    assert not (tmp_path / "out2.parquet").exists()


PICKY = '''
class Picky:
    output = {"kind": "number"}

    def predict(self, frame):
        if (frame["x"] == 13).any():
            raise ValueError("13 is unlucky")
        return (frame["x"] * 2).tolist()


class Broken:
    output = {"kind": "number"}

    def predict(self, frame):
        raise RuntimeError("always")
'''


@pytest.fixture
def python_models(store: Database, tmp_path: Path) -> Registry:
    (tmp_path / "picky.py").write_text(PICKY)
    reg = Registry(store, ArtifactStore(tmp_path / "artifacts"))
    features = [FeatureSpec(name="x", type="int")]
    reg.register("picky", f"{tmp_path / 'picky.py'}:Picky", features=features)
    reg.register("broken", f"{tmp_path / 'picky.py'}:Broken", features=features)
    return reg


def test_a_model_error_fails_only_the_rows_it_fails_on(
        store: Database, python_models: Registry, tmp_path: Path) -> None:
    pd.DataFrame({"x": range(40)}).to_csv(tmp_path / "in.csv", index=False)
    summary = predict_batch(store, python_models, "picky", tmp_path / "in.csv",
                            tmp_path / "out.parquet", chunk_size=20)
    assert (summary.predicted, summary.failed) == (39, 1)
    errors = pd.read_csv(summary.errors or "", keep_default_na=False)
    assert errors.to_dict("records") == [
        {"row": 14, "field": "", "reason": "model error: ValueError: 13 is unlucky"}]
    out = pq.read_table(summary.output).to_pandas()
    assert out["prediction"].tolist() == [2.0 * x for x in range(40) if x != 13]
    assert store.predictions.count_predictions("picky",
                                               role="batch") == 40  # the failure is logged too
    (chunk,) = store.predictions.iter_predictions("picky", with_labels=False)
    failed = [r for r in chunk if r["error"]]
    assert len(failed) == 1
    assert failed[0]["outputs"] is None
    assert json.loads(failed[0]["inputs"]) == {"x": 13}


def test_a_model_that_fails_on_every_row_stops_the_run(
        store: Database, python_models: Registry, tmp_path: Path) -> None:
    pd.DataFrame({"x": range(150)}).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ModelError, match="failed on each of the first 100 rows"):
        predict_batch(store, python_models, "broken", tmp_path / "in.csv",
                      tmp_path / "out.parquet", log=False)
    assert not (tmp_path / "out.parquet").exists()
    assert list(tmp_path.glob(".out*")) == []  # no temporary file left behind


def test_usage_errors(store: Database, registry: Registry, tmp_path: Path) -> None:
    df = make_frame(5, seed=11).drop(columns="y")
    df.to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ValidationError, match="key column 'nope'"):
        predict_batch(store, registry, "credit", tmp_path / "in.csv", tmp_path / "o.parquet",
                      key_column="nope")
    with pytest.raises(ValidationError, match="overwrite the input"):
        predict_batch(store, registry, "credit", tmp_path / "in.csv", tmp_path / "o.parquet",
                      errors_path=tmp_path / "in.csv")
    with pytest.raises(NotFoundError, match="'ghost' is not registered"):
        predict_batch(store, registry, "ghost", tmp_path / "in.csv", tmp_path / "o.parquet")
    df.assign(prediction=1).to_csv(tmp_path / "clash.csv", index=False)
    with pytest.raises(ValidationError, match="column\\(s\\) prediction"):
        predict_batch(store, registry, "credit", tmp_path / "clash.csv",
                      tmp_path / "o.parquet")


def test_a_missing_required_column_fails_every_row(
        store: Database, registry: Registry, tmp_path: Path) -> None:
    make_frame(30, seed=12).drop(columns=["y", "income"]).to_csv(tmp_path / "in.csv",
                                                                  index=False)
    summary = predict_batch(store, registry, "credit", tmp_path / "in.csv",
                            tmp_path / "out.parquet", log=False)
    assert (summary.predicted, summary.failed) == (0, 30)
    assert read_errors(summary.errors or Path()) == {r: {"income"} for r in range(1, 31)}
    assert any("income" in w and "every row" in w for w in summary.warnings)
    assert pq.read_table(summary.output).num_rows == 0


def traced_peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_stays_constant_on_a_large_file(
        store: Database, registry: Registry, tmp_path: Path) -> None:
    peaks = {}
    for n in (20_000, 200_000):
        make_frame(n, seed=13).drop(columns="y").to_csv(tmp_path / f"{n}.csv", index=False)
        peaks[n] = traced_peak(lambda n=n: predict_batch(  # type: ignore[misc]
            store, registry, "credit", tmp_path / f"{n}.csv", tmp_path / "out.parquet",
            chunk_size=5000, log=False))
    assert pq.read_metadata(tmp_path / "out.parquet").num_rows == 200_000
    # The whole file held as Python values, as a read-it-all implementation would.
    whole = traced_peak(lambda: pd.read_csv(tmp_path / "200000.csv", dtype=object))
    mb = {k: f"{v / 1e6:.1f} MB" for k, v in {**peaks, "whole": whole}.items()}
    assert peaks[200_000] < 1.5 * peaks[20_000], mb  # 10x the rows, not more memory
    assert peaks[200_000] < whole / 5, mb
