"""The arrival schedule: counts, spacing, ramps, Poisson statistics, sharding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from rampup.errors import ValidationError
from rampup.loadtest.schedule import Rate, offsets, parse_rate, shard


def test_constant_rate_is_evenly_spaced() -> None:
    t = offsets(Rate(200.0), 3.0, "constant")
    assert len(t) == 600
    assert np.allclose(np.diff(t), 1 / 200)
    assert t[0] == 0.0
    assert t[-1] < 3.0


def test_ramp_offers_the_rate_of_each_moment() -> None:
    rate, duration = Rate(10.0, 1000.0), 20.0
    t = offsets(rate, duration, "constant")
    assert len(t) == pytest.approx(rate.mean * duration, abs=1)
    counts, edges = np.histogram(t, bins=20, range=(0, duration))
    expected = [rate.at((a + b) / 2, duration) * (b - a) for a, b in itertools.pairwise(edges)]
    assert np.allclose(counts, expected, atol=1.0)


def test_ramp_from_zero() -> None:
    t = offsets(Rate(0.0, 100.0), 10.0, "constant")
    assert len(t) == 500
    assert np.all(np.diff(t) > 0)


def test_poisson_gaps_are_exponential() -> None:
    t = offsets(Rate(500.0), 20.0, "poisson", seed=7)
    gaps = np.diff(t)
    assert len(t) == pytest.approx(10_000, rel=0.05)
    assert stats.kstest(gaps, "expon", args=(0, 1 / 500)).pvalue > 0.001
    assert np.array_equal(t, offsets(Rate(500.0), 20.0, "poisson", seed=7))  # seeded
    assert not np.array_equal(t, offsets(Rate(500.0), 20.0, "poisson", seed=8))


def test_poisson_ramp_follows_the_rate() -> None:
    t = offsets(Rate(100.0, 900.0), 10.0, "poisson", seed=3)
    first, last = np.count_nonzero(t < 1.0), np.count_nonzero(t >= 9.0)
    assert 100 < first < 250
    assert 750 < last < 1000


def test_shards_partition_the_schedule() -> None:
    t = offsets(Rate(97.0), 1.0, "constant")
    parts = [shard(t, k, 3) for k in range(3)]
    assert sorted(np.concatenate(parts).tolist()) == t.tolist()


@pytest.mark.parametrize("text", ["", "fast", "-5", "0", "10:0", "nan", "10:x", "inf"])
def test_bad_rates_name_the_fix(text: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_rate(text)
    assert "--ramp 10:1000" in (err.value.fix or "")


def test_rates() -> None:
    assert parse_rate("250") == Rate(250.0, 250.0)
    assert not parse_rate("250").is_ramp
    assert parse_rate("0:50").is_ramp
    assert parse_rate("0:50").describe() == "0→50 req/s"
    with pytest.raises(ValidationError):
        offsets(Rate(10.0), 0.0)
    with pytest.raises(ValidationError):
        offsets(Rate(10.0), 1.0, "bursty")
