"""Calibration: false-alarm rates near the nominal level on seeded no-drift data, at the
window sizes of the issue, in stored (profile) and exact (raw rows) mode; detection of
seeded shifts. The false-alarm check has enough repetitions to fail a 10 % rate when
5 % is promised (see ``_design``), so it is marked slow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from rampup.drift.calibrate import GAUSSIAN_MIN_EXPECTED, NullCache, _multinomial_rows
from rampup.drift.features import numeric_profiles, numeric_samples
from rampup.drift.profiles import window_profile
from rampup.drift.report import DriftConfig, decide
from rampup.registry.profile import compute_profile, infer_schema

CONFIG = DriftConfig()


def _reference(rng: np.random.Generator, n_ref: int) -> tuple[np.ndarray, dict]:
    ref = np.sort(rng.normal(size=n_ref))
    df = pd.DataFrame({"x": ref})
    return ref, compute_profile(df, infer_schema(df))


def _verdicts(n: int, shift: float, reps: int, seed: int, n_ref: int = 20_000
              ) -> tuple[float, float]:
    """Share of drift verdicts (stored mode, raw mode) over ``reps`` seeded windows."""
    rng = np.random.default_rng(seed)
    cache = NullCache(CONFIG.reps)
    stored = raw = 0
    for _ in range(reps):
        ref, prof = _reference(rng, n_ref)
        cur = np.sort(rng.normal(shift, 1.0, n))
        window = window_profile(pd.DataFrame({"x": cur}), prof)
        s = numeric_profiles("x", prof["features"]["x"], window["features"]["x"], CONFIG, cache)
        r = numeric_samples("x", ref, cur, CONFIG, cache)
        stored += decide([s], 0.05, "bh")[0].drifted
        raw += decide([r], 0.05, "bh")[0].drifted
    return stored / reps, raw / reps


#: The calibration check's design: a one-sided binomial test at level ``LEVEL`` on
#: ``REPS`` seeded no-drift windows, so that a detector whose false-alarm rate is 10 %
#: when 5 % is promised fails with probability ``POWER`` or more (and one that keeps its
#: promise fails with probability at most ``LEVEL``). ``_design`` finds the smallest such
#: number of repetitions: 440, rejecting above 33 alarms (a power of 0.957).
NOMINAL, WORSE, LEVEL, POWER = 0.05, 0.10, 0.01, 0.95


def _design(nominal: float = NOMINAL, worse: float = WORSE, level: float = LEVEL,
            power: float = POWER) -> tuple[int, int]:
    """(repetitions, most alarms allowed): the fewest repetitions (in steps of 10) whose
    exact binomial test at ``level`` rejects a ``worse`` rate with ``power``."""
    for reps in range(50, 5000, 10):
        allowed = int(sps.binom.isf(level, reps, nominal))
        if sps.binom.sf(allowed, reps, nominal) <= level \
                and sps.binom.sf(allowed, reps, worse) >= power:
            return reps, allowed
    raise AssertionError("no design below 5000 repetitions")


REPS, ALLOWED = _design()


def test_the_design_has_the_power_it_claims() -> None:
    assert (REPS, ALLOWED) == (440, 33)
    assert sps.binom.sf(ALLOWED, REPS, WORSE) >= POWER  # 10 % instead of 5 %: caught
    assert sps.binom.sf(ALLOWED, REPS, NOMINAL) <= LEVEL  # a correct detector: passes
    # the 60 repetitions this file used before caught a 10 % rate 1 time in 5
    small = int(sps.binom.isf(LEVEL, 60, NOMINAL))
    assert sps.binom.sf(small, 60, WORSE) < 0.25


@pytest.mark.slow
@pytest.mark.parametrize("n", [50, 200, 1000, 20_000])
def test_false_alarms_near_nominal(n: int) -> None:
    stored, raw = _verdicts(n, 0.0, REPS, seed=10 + n)
    assert round(stored * REPS) <= ALLOWED, stored
    assert round(raw * REPS) <= ALLOWED, raw
    if n <= 200:  # where the practical minimum does not bite, the level is used, not wasted
        assert stored > 0.01
        assert raw > 0.01


@pytest.mark.parametrize(("n", "shift"), [(300, 0.5), (1000, 0.25)])
def test_seeded_shifts_are_detected(n: int, shift: float) -> None:
    stored, raw = _verdicts(n, shift, 20, seed=7)
    assert stored >= 0.9
    assert raw >= 0.9


def test_tiny_real_shift_on_a_huge_window_is_significant_but_small() -> None:
    rng = np.random.default_rng(8)
    ref, _prof = _reference(rng, 50_000)
    cur = np.sort(rng.normal(0.05, 1.0, 50_000))
    r = decide([numeric_samples("x", ref, cur, CONFIG, NullCache())], 0.05, "bh")[0]
    assert r.p_value < 1e-6
    assert r.verdict == "significant, small"
    assert r.effect == pytest.approx(0.05, abs=0.02)


def test_null_cache_is_shared_and_deterministic() -> None:
    a, b = NullCache(reps=300, seed=1), NullCache(reps=300, seed=1)
    counts = [50, 50, 50, 50]
    n1 = a.get(counts, 100)
    a.get([1, 2, 3, 4], 100)  # another key first must not change the draws
    assert a.get(counts, 100) is n1
    assert len(a) == 2
    np.testing.assert_array_equal(n1.values["psi"], b.get(counts, 100).values["psi"])
    assert n1.threshold("psi", 0.05) == pytest.approx(np.quantile(n1.values["psi"], 0.95))


def test_psi_threshold_shrinks_with_the_window() -> None:
    cache = NullCache(reps=500)
    counts = [500] * 20
    small, large = cache.get(counts, 100), cache.get(counts, 5000)
    assert small.threshold("psi", 0.05) > 0.1  # a fixed 0.1 false-alarms on small windows
    assert large.threshold("psi", 0.05) < 0.02


@pytest.mark.parametrize("n", [20, 40_000])
def test_window_draws_have_multinomial_moments(n: int) -> None:
    rng = np.random.default_rng(9)
    p = np.tile([0.1, 0.2, 0.3, 0.4], (20_000, 1))
    exact = n * 0.1 < GAUSSIAN_MIN_EXPECTED
    draws = _multinomial_rows(rng, n, p)
    assert draws.dtype.kind == ("i" if exact else "f")
    np.testing.assert_allclose(draws.sum(axis=1), n)
    np.testing.assert_allclose(draws.mean(axis=0), n * p[0], rtol=0.02)
    cov = np.cov(draws.T)
    want = n * (np.diag(p[0]) - np.outer(p[0], p[0]))
    np.testing.assert_allclose(cov, want, rtol=0.06, atol=0.06 * n * 0.04)
