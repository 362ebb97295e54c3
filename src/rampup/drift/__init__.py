"""Drift: data drift (a window's profile against the reference profile) and concept drift
(performance over time), with calibrated decisions and streaming detectors.

* :func:`check_model` / :func:`check_frames`: everything ``rampup drift`` reports, for a
  live model (stored profiles) or two tables of rows; :func:`drift_metrics` turns the
  result into ``drift.*``/``concept.*`` metrics for alert rules, and
  :func:`latest_metrics` does both for the last window of a live model;
* :func:`compare_profiles` / :func:`compare_frames`: the per-feature report alone;
* :func:`domain_classifier`: the multivariate test; :func:`performance_windows`: accuracy
  per window with Wilson intervals and label-free estimates;
* :class:`ADWIN`, :class:`PageHinkley`, :class:`DDM` and :class:`AlarmStream`: streaming
  detectors with de-duplication and cooldown;
* :func:`render_html`: the self-contained HTML report.

Names resolve lazily: the CLI's raw mode imports only the modules it runs (no store,
no SciPy ``stats`` for large samples, scikit-learn only for the domain classifier).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ADWIN": "rampup.drift.adwin",
    "NullCache": "rampup.drift.calibrate",
    "DriftCheck": "rampup.drift.check",
    "check_frames": "rampup.drift.check",
    "check_model": "rampup.drift.check",
    "latest_metrics": "rampup.drift.check",
    "Reference": "rampup.drift.concept",
    "WindowPerformance": "rampup.drift.concept",
    "performance_windows": "rampup.drift.concept",
    "DDM": "rampup.drift.detectors",
    "AlarmStream": "rampup.drift.detectors",
    "PageHinkley": "rampup.drift.detectors",
    "make_detector": "rampup.drift.detectors",
    "discriminant_test": "rampup.drift.discriminant",
    "compare_frames": "rampup.drift.frames",
    "render_html": "rampup.drift.html",
    "drift_metrics": "rampup.drift.metrics",
    "domain_classifier": "rampup.drift.multivariate",
    "compare_profiles": "rampup.drift.profiles",
    "window_profile": "rampup.drift.profiles",
    "DomainResult": "rampup.drift.report",
    "DriftConfig": "rampup.drift.report",
    "DriftReport": "rampup.drift.report",
    "TestResult": "rampup.drift.report",
    "Trend": "rampup.drift.trend",
    "pattern": "rampup.drift.trend",
}

__all__ = [
    "ADWIN",
    "DDM",
    "AlarmStream",
    "DomainResult",
    "DriftCheck",
    "DriftConfig",
    "DriftReport",
    "NullCache",
    "PageHinkley",
    "Reference",
    "TestResult",
    "Trend",
    "WindowPerformance",
    "check_frames",
    "check_model",
    "compare_frames",
    "compare_profiles",
    "discriminant_test",
    "domain_classifier",
    "drift_metrics",
    "latest_metrics",
    "make_detector",
    "pattern",
    "performance_windows",
    "render_html",
    "window_profile",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rampup.drift' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from rampup.drift.adwin import ADWIN
    from rampup.drift.calibrate import NullCache
    from rampup.drift.check import DriftCheck, check_frames, check_model, latest_metrics
    from rampup.drift.concept import Reference, WindowPerformance, performance_windows
    from rampup.drift.detectors import DDM, AlarmStream, PageHinkley, make_detector
    from rampup.drift.discriminant import discriminant_test
    from rampup.drift.frames import compare_frames
    from rampup.drift.html import render_html
    from rampup.drift.metrics import drift_metrics
    from rampup.drift.multivariate import domain_classifier
    from rampup.drift.profiles import compare_profiles, window_profile
    from rampup.drift.report import DomainResult, DriftConfig, DriftReport, TestResult
    from rampup.drift.trend import Trend, pattern
