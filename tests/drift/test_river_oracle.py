"""river as the oracle for the streaming detectors: on shared seeded streams, rampup's
ADWIN, Page-Hinkley and DDM raise alarms at exactly the indices river's do when both are
given the same parameters (explicitly here: rampup's defaults are tuned separately and
may differ from river's).

Two conventions are aligned rather than tested: river restarts a detector from scratch
after every detection, so rampup's ADWIN is ``reset()`` after each of its detections
too (rampup keeps the shrunk window otherwise); river's DDM starts checking after
``warm_start`` values and rampup's at the ``min_instances``-th, so ``warm_start =
min_instances - 1``. River's Page-Hinkley forgets with ``alpha``; rampup's does not
(``alpha = 1``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from rampup.drift.adwin import ADWIN
from rampup.drift.detectors import DDM, PageHinkley

river_drift = pytest.importorskip("river.drift", reason="river is in the dev extra")
river_binary = pytest.importorskip("river.drift.binary", reason="river is in the dev extra")

SEEDS = range(4)


def errors(seed: int) -> np.ndarray:
    """A 0/1 error stream: 10 % errors, then 30 %, then 15 % (2 000 values each)."""
    rng = np.random.default_rng(seed)
    rate = np.r_[np.full(2000, 0.10), np.full(2000, 0.30), np.full(2000, 0.15)]
    return (rng.random(rate.size) < rate).astype(float)


def values(seed: int) -> np.ndarray:
    """A real-valued stream whose mean and spread change twice."""
    rng = np.random.default_rng(1000 + seed)
    return np.r_[rng.normal(0, 1, 2000), rng.normal(1.0, 1, 2000), rng.normal(-0.5, 2, 2000)]


STREAMS: dict[str, Callable[[int], np.ndarray]] = {"errors": errors, "values": values}


def ours(detector: ADWIN | PageHinkley | DDM, stream: np.ndarray, *,
         reset: bool = False) -> list[int]:
    hits = []
    for i, x in enumerate(stream):
        if detector.update(float(x)):
            hits.append(i)
            if reset:
                detector.reset()
    return hits


def theirs(detector: object, stream: np.ndarray) -> list[int]:
    hits = []
    for i, x in enumerate(stream):
        detector.update(float(x))  # type: ignore[attr-defined]
        if detector.drift_detected:  # type: ignore[attr-defined]
            hits.append(i)
    return hits


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(STREAMS))
@pytest.mark.parametrize(("delta", "clock"), [(0.002, 32), (0.001, 8), (0.05, 4)])
def test_adwin_matches_river(kind: str, seed: int, delta: float, clock: int) -> None:
    stream = STREAMS[kind](seed)
    expected = theirs(river_drift.ADWIN(delta=delta, clock=clock, max_buckets=5,
                                        min_window_length=5, grace_period=10), stream)
    got = ours(ADWIN(delta=delta, clock=clock, max_buckets=5, min_window=5,
                     direction="both"), stream, reset=True)
    assert expected, "the stream must make river alarm at least once"
    assert got == expected


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", list(STREAMS))
@pytest.mark.parametrize(("delta", "threshold", "direction"),
                         [(0.005, 50.0, "both"), (0.05, 12.0, "up"), (0.01, 20.0, "down")])
def test_page_hinkley_matches_river(kind: str, seed: int, delta: float, threshold: float,
                                    direction: str) -> None:
    stream = STREAMS[kind](seed)
    expected = theirs(river_drift.PageHinkley(min_instances=30, delta=delta,
                                              threshold=threshold, alpha=1.0,
                                              mode=direction), stream)
    got = ours(PageHinkley(delta=delta, threshold=threshold, min_instances=30,
                           direction=direction), stream)
    if kind == "values" or direction != "down":
        assert expected, "the stream must make river alarm at least once"
    assert got == expected


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("min_instances", "warning", "drift"),
                         [(30, 2.0, 3.0), (100, 2.0, 2.5), (50, 1.5, 4.0)])
def test_ddm_matches_river(seed: int, min_instances: int, warning: float,
                           drift: float) -> None:
    stream = errors(seed)
    # rampup (on purpose) tracks no minimum while the error rate is 0; river does, so
    # an error-free start would make them differ by design: the streams start with errors
    assert stream[:min_instances].sum() > 0
    expected = theirs(river_binary.DDM(warm_start=min_instances - 1,
                                       warning_threshold=warning,
                                       drift_threshold=drift), stream)
    got = ours(DDM(min_instances=min_instances, warning_level=warning,
                   drift_level=drift), stream)
    assert expected, "the stream must make river alarm at least once"
    assert got == expected
