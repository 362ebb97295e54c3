"""Streaming detectors: golden alarm indices on seeded streams, de-duplication, cooldown."""

from __future__ import annotations

import numpy as np
import pytest

from rampup.drift.adwin import ADWIN
from rampup.drift.detectors import (
    DDM,
    AlarmStream,
    PageHinkley,
    latency_detector,
    make_detector,
    standardise,
)
from rampup.errors import ValidationError


def error_stream(seed: int, n0: int = 3000, p0: float = 0.1, n1: int = 3000,
                 p1: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random(n0 + n1) < np.r_[np.full(n0, p0), np.full(n1, p1)]).astype(float)


def alarms(detector: object, stream: np.ndarray) -> list[int]:
    return [i for i, x in enumerate(stream) if detector.update(float(x))]  # type: ignore[attr-defined]


# Golden: the exact step of each raw detection on error_stream(42) (change at 3000).
@pytest.mark.parametrize(("name", "golden"), [
    ("adwin", [3103, 3111, 3119, 3127, 3143, 3191, 3239]),
    ("page_hinkley", [3143]),
    ("ddm", [5462]),
])
def test_golden_alarm_indices(name: str, golden: list[int]) -> None:
    assert alarms(make_detector(name), error_stream(42)) == golden


def test_golden_adwin_with_the_literature_defaults() -> None:
    # delta 0.002, a check every 32 values, both directions (Bifet & Gavalda's settings)
    assert alarms(ADWIN(), error_stream(42)) == [3103, 3135, 3167, 3231, 3327]


@pytest.mark.parametrize("name", ["adwin", "page_hinkley", "ddm"])
def test_no_alarm_on_a_seeded_stationary_stream(name: str) -> None:
    rng = np.random.default_rng(7)
    assert alarms(make_detector(name), (rng.random(20_000) < 0.1).astype(float)) == []


def test_cooldown_turns_repeats_into_one_alarm() -> None:
    watch = AlarmStream(make_detector("adwin"), cooldown=1000, stream="errors")
    found = watch.run(error_stream(42).tolist(), times=[float(t) for t in range(6000)])
    assert [(a.index, a.ts, a.detector, a.stream) for a in found] == \
        [(3103, 3103.0, "adwin", "errors")]
    assert watch.suppressed == 6


def test_a_second_change_after_the_cooldown_alarms_again() -> None:
    rng = np.random.default_rng(1)
    probs = np.r_[np.full(3000, 0.1), np.full(3000, 0.3), np.full(3000, 0.6)]
    stream = (rng.random(9000) < probs).astype(float)
    found = AlarmStream(PageHinkley(), cooldown=500).run(stream)
    assert len(found) == 2
    assert 3000 < found[0].index < 3300
    assert 6000 < found[1].index < 6300


def test_adwin_window_statistics_match_numpy() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(5, 2, 3000)
    d = ADWIN()
    assert alarms(d, x) == []
    assert d.width == 3000
    assert d.estimate == pytest.approx(x.mean())
    assert d.variance == pytest.approx(x.var())


def test_adwin_forgets_the_old_level_after_a_change() -> None:
    d = ADWIN()
    alarms(d, error_stream(3, 2000, 0.1, 2000, 0.5))
    assert d.width < 2100
    assert d.estimate == pytest.approx(0.5, abs=0.03)


def test_adwin_direction_filters_improvements() -> None:
    falling = error_stream(5, 2000, 0.4, 2000, 0.1)
    assert alarms(ADWIN(direction="up"), falling) == []
    assert alarms(ADWIN(direction="down"), falling) != []


def test_ddm_warns_before_it_alarms() -> None:
    d = DDM()
    warned_since = None  # start of the current run of warnings
    for i, x in enumerate(error_stream(42)):
        if d.update(float(x)):
            break
        if not d.warning:
            warned_since = None
        elif warned_since is None:
            warned_since = i
    assert i == 3744
    assert warned_since is not None
    assert 3000 < warned_since < i


def test_page_hinkley_watches_falls_too() -> None:
    rng = np.random.default_rng(4)
    x = np.r_[rng.normal(0, 1, 1000), rng.normal(-2, 1, 500)]
    assert alarms(PageHinkley(delta=0.5, threshold=25, direction="up"), x) == []
    assert 1000 < alarms(PageHinkley(delta=0.5, threshold=25, direction="down"), x)[0] < 1100


def test_latency_rise_is_caught_on_the_standardised_log_scale() -> None:
    rng = np.random.default_rng(3)
    lat = np.r_[rng.lognormal(3, 0.3, 2000), rng.lognormal(3.5, 0.3, 1000)]
    z = standardise(lat, lat[:400])
    found = AlarmStream(latency_detector(), stream="latency").run(z.tolist())
    assert [a.index for a in found] == [2023]


def test_unknown_detector() -> None:
    with pytest.raises(ValidationError, match="unknown detector"):
        make_detector("cusum")
    with pytest.raises(ValueError, match="delta"):
        ADWIN(delta=2.0)
