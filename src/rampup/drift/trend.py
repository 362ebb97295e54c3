"""Drift over consecutive windows: is a change sudden, gradual, or not there at all?

One verdict hides the shape of a change. A :class:`Trend` keeps the report of each
consecutive window and, per feature, the series of effect sizes and verdicts.
:func:`pattern` names the shape from the effect series:

* ``stable``: no window drifted;
* ``persistent``: every window drifted (the change is older than the range);
* ``sudden``: a step (two flat levels) explains the series better than a straight line;
  ``since`` is the first window of the upper level;
* ``gradual``: a rising line explains it better than a step;
* ``transient``: the drift came and went (the last window does not drift);
* ``unclear``: fewer than four windows with data.

>>> pattern([0.01, 0.02, 0.01, 0.4, 0.42, 0.41], [False] * 3 + [True] * 3)
('sudden', 3)
>>> pattern([0.0, 0.05, 0.1, 0.15, 0.2, 0.25], [False, False, True, True, True, True])
('gradual', 2)
>>> pattern([0.5, 0.4, 0.45], [True, True, True])
('persistent', 0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rampup.drift.report import DriftReport

STABLE, PERSISTENT, SUDDEN, GRADUAL, TRANSIENT, UNCLEAR = (
    "stable", "persistent", "sudden", "gradual", "transient", "unclear")


def _sse(x: np.ndarray[Any, Any]) -> float:
    return float(((x - x.mean()) ** 2).sum()) if len(x) else 0.0


def pattern(effects: Sequence[float], drifted: Sequence[bool]) -> tuple[str, int | None]:
    """The shape of one feature's effect series (see the module docstring) and the
    window where the drift starts (None when stable or unclear)."""
    e = np.asarray(effects, dtype=np.float64)
    ok = ~np.isnan(e) & np.isfinite(e)
    flags = np.asarray(drifted, dtype=bool)
    if not flags.any():
        return STABLE, None
    first = int(np.argmax(flags))
    if flags.all():
        return PERSISTENT, 0
    if ok.sum() < 4:
        return UNCLEAR, first
    if not flags[-1]:
        return TRANSIENT, first
    idx = np.flatnonzero(ok)
    y = e[ok]
    x = idx.astype(np.float64)
    slope, icept = np.polyfit(x, y, 1)
    line = float(((y - (slope * x + icept)) ** 2).sum())
    splits = [(_sse(y[:k]) + _sse(y[k:]), k) for k in range(1, len(y))]
    step, k = min(splits)
    if step <= line or slope <= 0:
        return SUDDEN, int(idx[k])
    return GRADUAL, first


@dataclass(frozen=True)
class Trend:
    """Reports of consecutive windows ``(start, end)``, oldest first."""

    windows: tuple[tuple[float, float], ...]
    reports: tuple[DriftReport, ...]

    @property
    def features(self) -> list[str]:
        names: dict[str, None] = {}
        for r in self.reports:
            names.update(dict.fromkeys(r.features))
        return list(names)

    def effects(self, feature: str) -> list[float]:
        return [r.feature_effect(feature) if feature in r.features else math.nan
                for r in self.reports]

    def drifted(self, feature: str) -> list[bool]:
        return [feature in r.drifted_features for r in self.reports]

    def share_drifted(self) -> list[float]:
        return [r.share_drifted for r in self.reports]

    def patterns(self) -> dict[str, tuple[str, int | None]]:
        return {f: pattern(self.effects(f), self.drifted(f)) for f in self.features}

    def to_dict(self) -> dict[str, Any]:
        pats = self.patterns()
        return {
            "windows": [list(w) for w in self.windows],
            "share_drifted": self.share_drifted(),
            "features": {f: {"effects": [None if math.isnan(v) else v
                                         for v in self.effects(f)],
                             "drifted": self.drifted(f), "pattern": pats[f][0],
                             "since_window": pats[f][1]}
                         for f in self.features},
        }
