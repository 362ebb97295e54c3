"""Baselines: built from humans, an older version or a trivial model; kept in the store."""

from __future__ import annotations

import numpy as np
import pytest

from rampup.analysis.baselines import (
    MODEL_WIDE,
    Baseline,
    baseline_from_predictions,
    human_baseline,
    load_baseline,
    load_baselines,
    majority_baseline,
    save_baseline,
)
from rampup.analysis.error_analysis import analyse_errors, errors_of
from rampup.analysis.labels import Ratings
from rampup.errors import NotFoundError, ValidationError
from rampup.store import Database

Y = np.array(["a", "a", "b", "b", "a", "b", "a", "a"])
TAGS = {"noisy": np.array([1, 1, 1, 0, 0, 0, 0, 0], bool),
        "empty": np.zeros(8, bool)}


def test_from_an_older_versions_predictions() -> None:
    old = np.array(["a", "b", "a", "b", "a", "a", "a", "a"])  # wrong at 1, 2, 5
    b = baseline_from_predictions("v1", Y, old, TAGS, source="v1")
    assert b.kind == "version"
    assert b.error_rates == {"overall": 3 / 8, "noisy": 2 / 3}  # no rate for an empty tag
    assert b.counts == {"overall": 8, "noisy": 3}
    assert b.overall == 3 / 8


def test_majority_class_from_training_labels() -> None:
    b = majority_baseline("majority", Y, TAGS, train_labels=["b", "b", "a"])
    assert b.kind == "trivial"
    assert b.source == "always 'b'"
    assert b.error_rates == {"overall": 5 / 8, "noisy": 2 / 3}
    assert majority_baseline("m", Y).error_rates == {"overall": 3 / 8}
    with pytest.raises(ValidationError, match="no labels"):
        majority_baseline("m", [None, None])


def test_human_level_per_tag_from_annotators() -> None:
    # 3 annotators on 4 items; c disagrees on items 1 and 3; tag 'hard' = items 1 and 3
    items = [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    labels = list("aab" "bbb" "aab" "aaa")
    hard = np.array([i in (1, 3) for i in items])
    r = Ratings.from_long(items, list("abc" * 4), labels)
    b = human_baseline("human", r, reference={1: "a", 2: "b", 3: "a", 4: "a"},
                       tags={"hard": hard})
    assert b.kind == "human"
    assert b.error_rates == {"overall": pytest.approx(2 / 12), "hard": pytest.approx(2 / 6)}
    assert b.counts == {"overall": 12, "hard": 6}
    assert b.source == "3 annotators on 4 items (adjudicated labels)"
    # and it drives the error analysis: the model is compared to humans per tag
    model_errors = np.array([True, True, False, False, False, False, False, False])
    table = analyse_errors(model_errors, {"hard": np.array([1, 1, 0, 0, 0, 0, 0, 0], bool)},
                           baseline_rates=b.error_rates, baseline_name=b.name)
    assert table.rows[0].baseline_error_rate == pytest.approx(1 / 3)
    assert table.rows[0].gap == pytest.approx(1 - 1 / 3)


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValidationError, match="baseline kind 'oracle' is not known"):
        Baseline("x", "oracle", {})


def test_saved_and_loaded_per_model_and_version(store: Database) -> None:
    store.models.ensure_model("m")
    human = Baseline("human", "human", {"overall": 0.05, "noisy": 0.2},
                     {"overall": 100, "noisy": 10}, "3 annotators")
    save_baseline(store, "m", human)
    old = baseline_from_predictions("previous", Y, Y, TAGS, source="v1")
    save_baseline(store, "m", old, version="v2")
    [rec] = store.evaluations.list_evaluations("m", MODEL_WIDE, kind="baseline")
    assert rec.summary == {"kind": "human", "overall_error_rate": 0.05,
                           "source": "3 annotators"}

    assert load_baselines(store, "m") == [human]  # model-wide only
    assert load_baselines(store, "m", "v2") == [human, old]
    assert load_baseline(store, "m", "human", "v2") == human

    newer = Baseline("human", "human", {"overall": 0.04}, {"overall": 200})
    save_baseline(store, "m", newer)  # the latest of a name wins
    assert load_baseline(store, "m", "human") == newer
    only_v2 = Baseline("human", "human", {"overall": 0.5}, {"overall": 5})
    save_baseline(store, "m", only_v2, version="v2")  # version-specific beats model-wide
    assert load_baseline(store, "m", "human", "v2") == only_v2
    assert load_baseline(store, "m", "human", "v3") == newer

    with pytest.raises(NotFoundError, match=r"no baseline named 'oracle' \(known: human\)"):
        load_baseline(store, "m", "oracle")


def test_baseline_errors_line_up_with_errors_of() -> None:
    y = np.array([1.0, 2.0, 3.0])
    b = baseline_from_predictions("reg", y, np.array([1.0, 2.9, 3.1]), tolerance=0.5)
    assert b.error_rates == {"overall": pytest.approx(1 / 3)}
    assert errors_of(y, [1.0, 2.9, 3.1], tolerance=0.5).tolist() == [False, True, False]
