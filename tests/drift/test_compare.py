"""Stored-profile mode and exact mode on seeded tables: they agree, find seeded shifts,
report unseen categories and missing-value changes, and handle the monitor's shapes."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from rampup.drift.calibrate import NullCache
from rampup.drift.features import categorical_counts, numeric_profiles, rebin
from rampup.drift.frames import compare_frames
from rampup.drift.output import monitor_outputs, output_profile, output_results
from rampup.drift.profiles import compare_profiles, feature_entries, window_profile
from rampup.drift.report import DriftConfig, decide
from rampup.errors import ValidationError
from rampup.registry.profile import compute_profile, infer_schema


def table(n: int, seed: int, *, shift: float = 0.0, new_city: float = 0.0,
          missing: float = 0.05) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    city = rng.choice(["paris", "rome", "oslo"], n, p=[0.5, 0.3, 0.2]).astype(object)
    city[rng.random(n) < new_city] = "lima"
    income = rng.lognormal(10 + shift * 0.5, 0.5, n)
    income[rng.random(n) < missing] = np.nan
    return pd.DataFrame({"age": rng.normal(40 + 10 * shift, 10, n), "income": income,
                         "city": city, "member": rng.random(n) < 0.3,
                         "visits": rng.poisson(3, n)})


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, dict]:
    ref = table(20_000, 1)
    return ref, compute_profile(ref, infer_schema(ref))


def test_no_drift_on_fresh_data_from_the_same_source(reference: tuple) -> None:
    ref, prof = reference
    cur = table(3000, 2)
    stored = compare_profiles(prof, window_profile(cur, prof))
    raw = compare_frames(ref, cur)
    assert stored.drifted_features == []
    assert raw.drifted_features == []
    assert stored.features == raw.features == ["age", "income", "city", "member", "visits"]
    assert [r.test for r in stored.results] == ["binned_ks", "binned_ks", "z", "chi2",
                                                "fisher", "z", "fisher", "binned_ks"]
    assert [r.kind for r in raw.results] == ["numeric", "numeric", "missing", "categorical",
                                             "unseen", "binary", "unseen", "numeric"]


def test_both_modes_find_the_seeded_drift(reference: tuple) -> None:
    ref, prof = reference
    cur = table(3000, 3, shift=0.3, new_city=0.1, missing=0.2)
    stored = compare_profiles(prof, window_profile(cur, prof))
    raw = compare_frames(ref, cur)
    for rep in (stored, raw):
        assert rep.drifted_features == ["age", "income", "city"]
        by = {(r.feature, r.kind): r for r in rep.results}
        assert by[("age", "numeric")].effect == pytest.approx(0.3, abs=0.05)
        assert by[("income", "missing")].effect == pytest.approx(0.15, abs=0.03)
        assert dict(by[("city", "categorical")].unseen) == {"lima": pytest.approx(300, abs=40)}
        assert any("unseen categories: 'lima'" in n for n in by[("city", "categorical")].notes)
        assert by[("member", "binary")].verdict == "no drift"
    s = {(r.feature, r.kind): r.effect for r in stored.results}
    w = {(r.feature, r.kind): r.effect for r in raw.results}
    for key, value in w.items():  # the stored effects track the exact ones
        assert s[key] == pytest.approx(value, abs=0.03), key


def test_stored_mode_cost_does_not_grow_with_rows(reference: tuple) -> None:
    _, prof = reference
    cache = NullCache()
    small = window_profile(table(1000, 4), prof)
    big = window_profile(table(100_000, 5), prof)
    compare_profiles(prof, small, cache=cache)
    compare_profiles(prof, big, cache=cache)

    def best(window: dict) -> float:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            compare_profiles(prof, window, cache=cache)
            times.append(time.perf_counter() - t)
        return min(times)

    assert best(big) < 5 * best(small) + 0.01


def test_monitor_style_window_without_quantiles(reference: tuple) -> None:
    """The monitor keeps counts on the reference bins and moments, no quantiles."""
    ref, prof = reference
    cur = table(4000, 6, shift=0.25)
    entry = window_profile(cur, prof)["features"]["age"]
    monitor_entry = {**entry, "quantiles": None}
    r = numeric_profiles("age", prof["features"]["age"], monitor_entry, DriftConfig(),
                         NullCache())
    exact = compare_frames(ref[["age"]], cur[["age"]]).results[0]
    assert r.notes == ()
    assert r.effect == pytest.approx(exact.effect, abs=0.02)
    assert r.p_value < 1e-6


def test_window_binned_on_its_own_edges_is_rebinned_and_flagged(reference: tuple) -> None:
    _ref, prof = reference
    cur = table(5000, 7)
    own = compute_profile(cur, infer_schema(cur))["features"]["age"]
    exact = window_profile(cur, prof)["features"]["age"]
    counts, is_exact = rebin(own, prof["features"]["age"])
    assert not is_exact
    assert counts.sum() == 5000
    np.testing.assert_allclose(counts, exact["counts"], atol=40)
    r = numeric_profiles("age", prof["features"]["age"], own, DriftConfig(), NullCache())
    assert "re-binned approximately" in r.notes[0]
    assert decide([r], 0.05, "bh")[0].verdict == "no drift"


def test_categorical_counts_against_a_reference_with_an_other_bucket() -> None:
    ref = {"a": 500, "b": 300, "__other__": 200}
    cur = {"a": 50, "b": 30, "zz": 20}
    r = categorical_counts("c", ref, cur, DriftConfig(), NullCache())
    assert r.unseen == {}
    assert "__other__ bucket" in r.notes[0]
    assert r.histogram is not None
    assert r.histogram.labels == ("a", "b", "__other__")
    assert r.histogram.cur_counts == (50, 30, 20)


def test_too_few_rows_are_not_tested(reference: tuple) -> None:
    _ref, prof = reference
    rep = compare_profiles(prof, window_profile(table(10, 8), prof))
    assert {r.verdict for r in rep.results} == {"not tested"}
    assert "too few values" in rep.results[0].notes[0]
    assert math.isnan(rep.results[0].q_value)


def test_text_features_compare_lengths_in_exact_mode() -> None:
    rng = np.random.default_rng(9)
    words = [f"w{i}" for i in range(200)]
    ref = pd.DataFrame({"q": [" ".join(rng.choice(words, k)) for k in rng.integers(1, 5, 3000)]})
    cur = pd.DataFrame({"q": [" ".join(rng.choice(words, k)) for k in rng.integers(4, 9, 500)]})
    rep = compare_frames(ref, cur)
    assert [(r.kind, r.test, r.verdict) for r in rep.results] == [("text", "ks", "drift")]
    stored = compare_profiles(compute_profile(ref, infer_schema(ref)),
                              window_profile(cur, compute_profile(ref, infer_schema(ref))))
    assert stored.results[0].verdict == "not tested"


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValidationError, match="no features"):
        compare_profiles({"features": {}}, {"features": {}})
    with pytest.raises(ValidationError, match="not in both tables"):
        compare_frames(pd.DataFrame({"a": [1.0]}), pd.DataFrame({"b": [1.0]}))


def test_feature_entries_reads_both_shapes() -> None:
    entry = {"kind": "numeric", "count": 3}
    assert feature_entries({"features": {"x": entry}}) == {"x": entry}
    assert feature_entries({"x": entry, "rows": 3}) == {"x": entry}


def test_output_drift_from_the_monitor_shape() -> None:
    rng = np.random.default_rng(10)
    ref = pd.DataFrame({"prediction": rng.choice(["no", "yes"], 5000, p=[0.8, 0.2]),
                        "confidence": rng.beta(8, 2, 5000)})
    quantiles = [float(q) for q in np.quantile(rng.beta(5, 2, 3000), np.linspace(0, 1, 101))]
    monitor = {"count": 3000, "classes": {"counts": {"no": 2100, "yes": 900}},
               "values": None, "confidence": {"count": 3000, "mean": 0.7,
                                              "quantiles": quantiles}}
    results = decide(output_results(output_profile(ref), monitor_outputs(monitor)), 0.05, "bh")
    assert [(r.feature, r.kind, r.test, r.drifted) for r in results] == [
        ("prediction", "output", "chi2", True), ("confidence", "output", "binned_ks", True)]
    assert "re-binned approximately" in results[1].notes[0]
    # with quantiles on both sides only (two monitor windows), the quantile test
    base = monitor_outputs({**monitor, "confidence": {
        "count": 5000, "mean": 0.8, "quantiles": [float(q) for q in np.quantile(
            ref["confidence"], np.linspace(0, 1, 101))]}})
    r = decide(output_results(base, monitor_outputs(monitor)), 0.05, "bh")[1]
    assert (r.test, r.drifted) == ("quantile_ks", True)
    assert "approximate" in r.notes[0]
