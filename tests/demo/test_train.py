"""Training the demo's models and writing the demo's artifacts."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from rampup.errors import ValidationError
from rampup_demo.data import FEATURES, ID_COLUMN, LABEL, NEW_REGION, LoanGenerator
from rampup_demo.train import (
    BATCH_ROWS,
    DemoArtifacts,
    build_demo_artifacts,
    evaluate,
    train_model,
)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    gen = LoanGenerator(1)
    return gen.sample(4000), gen.sample(3000)


@pytest.mark.parametrize("kind", ["logistic", "gbm"])
def test_train_model_reaches_a_sensible_auc(data: tuple[pd.DataFrame, pd.DataFrame],
                                            kind: str) -> None:
    train, holdout = data
    model = train_model(train.head(3000), seed=1, kind=kind)  # type: ignore[arg-type]
    assert isinstance(model, Pipeline)
    assert list(model.feature_names_in_) == FEATURES
    assert list(model.classes_) == [0, 1]
    metrics = evaluate(model, holdout)
    assert metrics["auc"] > 0.75
    assert metrics["accuracy"] > 0.8
    assert metrics["n"] == len(holdout)
    assert metrics["base_rate"] == pytest.approx(holdout[LABEL].mean(), abs=1e-4)


def test_model_scores_json_records_with_missing_and_unseen_values(
        data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    model = train_model(data[0])
    recs = LoanGenerator(9, data_drift=1.0).records(200)
    recs[0]["region"] = None
    recs[1]["credit_score"] = None
    recs[2]["has_cosigner"] = True
    assert any(r["region"] == NEW_REGION for r in recs)
    frame = pd.DataFrame([{k: r[k] for k in FEATURES} for r in recs])
    proba = model.predict_proba(frame)[:, 1]
    assert proba.shape == (200,)
    assert np.isfinite(proba).all()
    assert ((proba > 0) & (proba < 1)).all()


def test_train_model_rejects_bad_input(data: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with pytest.raises(ValidationError, match="unknown model kind 'forest'"):
        train_model(data[0], kind="forest")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="lacks column") as err:
        train_model(data[0].drop(columns=["credit_score"]))
    assert err.value.details["field"] == "credit_score"


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> DemoArtifacts:
    return build_demo_artifacts(tmp_path_factory.mktemp("art") / "demo", seed=2, n_train=2000)


def test_build_demo_artifacts_writes_every_file(artifacts: DemoArtifacts) -> None:
    art = artifacts
    for path in (art.model_v1, art.model_v2, art.reference, art.holdout, art.batch_input):
        assert path.is_file()
        assert path.parent == art.out_dir
    v1, v2 = joblib.load(art.model_v1), joblib.load(art.model_v2)
    assert type(v1[-1]).__name__ == "LogisticRegression"
    assert type(v2[-1]).__name__ == "HistGradientBoostingClassifier"

    reference, holdout = pd.read_parquet(art.reference), pd.read_parquet(art.holdout)
    assert list(reference.columns) == [*FEATURES, LABEL] == list(holdout.columns)
    assert len(reference) == 2000
    assert len(holdout) == 1000
    assert reference["credit_score"].isna().any()  # missing values survive the round trip
    assert evaluate(v1, holdout) == art.metrics["v1"]
    assert set(art.metrics) == {"v1", "v2"}
    assert all(m["auc"] > 0.7 for m in art.metrics.values())


def test_batch_input_holds_the_deliberately_bad_rows(artifacts: DemoArtifacts) -> None:
    art = artifacts
    batch = pd.read_csv(art.batch_input)
    assert len(batch) == BATCH_ROWS
    assert set(batch.columns) == {ID_COLUMN, *FEATURES}  # the id is an extra, non-feature column
    assert len(art.bad_rows) == 5
    by_column = {reason.split()[0]: row for row, reason in art.bad_rows.items()}
    assert batch.loc[by_column["age"], "age"] == "forty-two"
    assert pd.isna(batch.loc[by_column["loan_amount"], "loan_amount"])
    assert pd.isna(batch.loc[by_column["purpose"], "purpose"])
    for column in ("age", "annual_income", "credit_score"):
        numbers = pd.to_numeric(batch[column], errors="coerce")
        bad = set(np.flatnonzero(numbers.isna() & batch[column].notna()).tolist())
        assert bad == {by_column[column]}
    good = batch.drop(index=list(art.bad_rows))
    assert good["loan_amount"].notna().all()
    assert good["purpose"].notna().all()


def test_build_demo_artifacts_rejects_a_tiny_training_set(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="n_train"):
        build_demo_artifacts(tmp_path, n_train=50)


@pytest.mark.slow
def test_default_build_is_fast_and_v2_beats_v1(tmp_path: Path) -> None:
    art = build_demo_artifacts(tmp_path)
    assert art.seconds < 30  # ~1 s on two idle cores; generous for loaded CI machines
    assert art.metrics["v1"]["auc"] > 0.78
    assert art.metrics["v2"]["auc"] > art.metrics["v1"]["auc"] + 0.01
