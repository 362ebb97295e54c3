"""The loan generator: determinism, realism, missing values and both drift switches."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rampup.errors import ValidationError
from rampup_demo.data import (
    CATEGORICAL_FEATURES,
    COLUMNS,
    DEFAULT_START,
    FEATURES,
    HOME_OWNERSHIP,
    ID_COLUMN,
    LABEL,
    NEW_REGION,
    PURPOSES,
    REGIONS,
    TERMS,
    TIME_COLUMN,
    LoanGenerator,
    frame_to_records,
)
from rampup_demo.train import evaluate, train_model


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return LoanGenerator(11).sample(20000)


def test_same_seed_gives_the_same_frame_and_another_seed_does_not() -> None:
    a, b = LoanGenerator(3).sample(500), LoanGenerator(3).sample(500)
    pd.testing.assert_frame_equal(a, b)
    c = LoanGenerator(4).sample(500)
    assert not a[FEATURES].equals(c[FEATURES])


def test_successive_samples_continue_the_streams_and_the_clock() -> None:
    gen = LoanGenerator(5)
    parts = pd.concat([gen.sample(300), gen.sample(200)], ignore_index=True)
    whole = LoanGenerator(5).sample(500)
    pd.testing.assert_frame_equal(parts.drop(columns=TIME_COLUMN),
                                  whole.drop(columns=TIME_COLUMN))
    gap = (parts[TIME_COLUMN] - whole[TIME_COLUMN]).abs().max()
    assert gap <= pd.Timedelta(microseconds=1)


def test_columns_types_and_ranges(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS
    assert ID_COLUMN not in FEATURES
    assert LABEL not in FEATURES
    assert frame[ID_COLUMN].is_unique
    assert frame["age"].between(18, 80).all()
    assert frame["credit_score"].dropna().between(300, 850).all()
    assert set(frame["term_months"]) == set(TERMS)
    assert set(frame["home_ownership"]) == set(HOME_OWNERSHIP)
    assert set(frame["purpose"]) == set(PURPOSES)
    assert set(frame["region"]) == set(REGIONS)
    assert frame["has_cosigner"].dtype == bool
    assert (frame["annual_income"] > 0).all()
    assert (frame["loan_amount"] >= 1000).all()
    assert frame["debt_to_income"].between(0, 0.95).all()
    # log-normal income: right-skewed, so the mean sits above the median
    assert frame["annual_income"].mean() > frame["annual_income"].median() * 1.05
    assert frame[TIME_COLUMN].is_monotonic_increasing
    assert frame[TIME_COLUMN].iloc[0] == pd.Timestamp(DEFAULT_START, unit="s", tz="UTC")


def test_start_and_rate_set_the_timestamps() -> None:
    df = LoanGenerator(1).sample(1000, start=1_800_000_000.0, rate_per_s=100.0)
    assert df[TIME_COLUMN].iloc[0] == pd.Timestamp(1_800_000_000, unit="s", tz="UTC")
    span = (df[TIME_COLUMN].iloc[-1] - df[TIME_COLUMN].iloc[0]).total_seconds()
    assert span == pytest.approx(10.0, rel=0.15)


def test_base_rate_is_realistic(frame: pd.DataFrame) -> None:
    assert 0.12 <= frame[LABEL].mean() <= 0.18
    assert set(frame[LABEL].unique()) == {0, 1}


def test_missing_fractions_are_near_their_targets(frame: pd.DataFrame) -> None:
    missing = frame.isna().mean()
    assert missing["credit_score"] == pytest.approx(0.03, abs=0.006)
    assert missing["employment_years"] == pytest.approx(0.08, abs=0.01)
    others = [c for c in COLUMNS if c not in ("credit_score", "employment_years")]
    assert missing[others].sum() == 0


def test_label_moves_in_realistic_directions(frame: pd.DataFrame) -> None:
    rate, dti = frame[LABEL], frame["debt_to_income"]
    assert rate[dti > 0.4].mean() > 2 * rate[dti < 0.15].mean()
    assert rate[frame["credit_score"] < 620].mean() > 3 * rate[frame["credit_score"] > 740].mean()
    assert rate[frame["delinquencies_2y"] >= 2].mean() > rate[frame["delinquencies_2y"] == 0].mean()
    assert rate[frame["has_cosigner"]].mean() < rate[~frame["has_cosigner"]].mean()


def test_records_are_json_ready_and_match_the_frame() -> None:
    df = LoanGenerator(2).sample(400)
    recs = LoanGenerator(2).records(400)
    assert json.loads(json.dumps(recs)) == recs
    assert frame_to_records(df) == recs
    assert [r[ID_COLUMN] for r in recs] == df[ID_COLUMN].tolist()
    assert all(type(r["age"]) is int and type(r["has_cosigner"]) is bool for r in recs)
    assert all(type(r["annual_income"]) is float and type(r[LABEL]) is int for r in recs)
    missing_score = [r for r in recs if r["credit_score"] is None]
    assert len(missing_score) == int(df["credit_score"].isna().sum()) > 0
    assert all(type(r["credit_score"]) is int for r in recs if r["credit_score"] is not None)
    assert pd.Timestamp(recs[0][TIME_COLUMN]) == df[TIME_COLUMN].iloc[0]


def test_data_drift_moves_the_inputs() -> None:
    base = LoanGenerator(11).sample(20000)
    drifted = LoanGenerator(11, data_drift=1.0).sample(20000)
    assert drifted["annual_income"].mean() < 0.85 * base["annual_income"].mean()
    assert drifted["credit_score"].mean() < base["credit_score"].mean() - 25
    share = (drifted["purpose"] == "small_business").mean()
    assert share > 3 * (base["purpose"] == "small_business").mean()
    assert (drifted["region"] == NEW_REGION).mean() == pytest.approx(0.15, abs=0.02)
    assert drifted["employment_years"].isna().mean() > base["employment_years"].isna().mean() + 0.05
    mild = LoanGenerator(11, data_drift=0.4).sample(5000)
    assert NEW_REGION not in set(mild["region"])


def test_concept_drift_keeps_the_inputs_and_changes_the_labels() -> None:
    base = LoanGenerator(8).sample(5000)
    drifted = LoanGenerator(8, concept_drift=1.0).sample(5000)
    pd.testing.assert_frame_equal(base.drop(columns=LABEL), drifted.drop(columns=LABEL))
    assert (base[LABEL] != drifted[LABEL]).mean() > 0.05
    small = drifted["purpose"] == "small_business"
    assert drifted.loc[small, LABEL].mean() > base.loc[small, LABEL].mean() + 0.15


def test_concept_drift_hurts_a_v1_model_more_than_data_drift() -> None:
    model = train_model(LoanGenerator(0).sample(5000))
    auc = {name: evaluate(model, LoanGenerator(21, **kw).sample(6000))["auc"]
           for name, kw in {"none": {}, "data": {"data_drift": 1.0},
                            "concept": {"concept_drift": 1.0}}.items()}
    assert auc["none"] - auc["concept"] > 0.06
    assert auc["none"] - auc["data"] < 0.02
    assert auc["data"] - auc["concept"] > 0.06


@pytest.mark.parametrize("kwargs", [{"data_drift": 1.5}, {"concept_drift": -0.1},
                                    {"data_drift": float("nan")}])
def test_drift_outside_zero_to_one_is_rejected(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match="between 0 and 1"):
        LoanGenerator(0, **kwargs)


def test_bad_sample_arguments_are_rejected() -> None:
    gen = LoanGenerator(0)
    with pytest.raises(ValidationError, match="rate_per_s"):
        gen.sample(10, rate_per_s=0)
    with pytest.raises(ValidationError, match="n must be"):
        gen.sample(-1)
    empty = gen.sample(0)
    assert list(empty.columns) == COLUMNS
    assert len(empty) == 0


def test_categorical_columns_hold_strings(frame: pd.DataFrame) -> None:
    for col in CATEGORICAL_FEATURES:
        assert all(isinstance(v, str) for v in frame[col].head(50))
    assert np.issubdtype(frame["age"].dtype, np.integer)
