"""``rampup drift --reference --current``: a domain classifier beside the other tests.

The default multivariate test (``qda``, :mod:`rampup.drift.discriminant`) is NumPy and
runs here. A scikit-learn domain classifier (``--multivariate-model hgb`` or
``logistic``) needs scikit-learn, whose import alone (with ``scipy.stats``) costs about
as much CPU as every per-feature test on 100k + 100k rows. With two or more CPUs the CLI
therefore starts one worker process for it at once: it imports scikit-learn while
this process reads the files and runs the per-feature tests, then fits the classifier.
Its result is the one :func:`~rampup.drift.multivariate.domain_classifier` returns in
process (same function, same seed, same rows); :func:`check_raw` puts it into the report
exactly where :func:`~rampup.drift.check.check_frames` would. With one CPU, or if the
worker fails to start, everything runs here as before.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

#: the multivariate tests that need scikit-learn (run in the worker)
SKLEARN_MODELS = ("hgb", "logistic")

if TYPE_CHECKING:
    import pandas as pd

    from rampup.drift.check import DriftCheck
    from rampup.drift.report import DomainResult, DriftConfig


def _warm() -> None:
    """Run in the worker first: the imports the domain classifier will need."""
    import sklearn.ensemble
    import sklearn.metrics
    import sklearn.model_selection  # noqa: F401
    from scipy import stats  # noqa: F401

    import rampup.drift.multivariate  # noqa: F401


def _classify(reference: pd.DataFrame, current: pd.DataFrame, features: list[str],
              model: str, alpha: float, seed: int) -> DomainResult:
    from rampup.drift.multivariate import domain_classifier

    return domain_classifier(reference, current, features, model=model, alpha=alpha,
                             seed=seed)


class DomainWorker:
    """One worker process for the domain classifier, started (and warming up) at once."""

    def __init__(self, model: str = "hgb") -> None:
        import multiprocessing

        self.model = model
        # spawn: a fresh interpreter, whatever threads this process has by now
        self.pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"))
        self.warm: Future[None] = self.pool.submit(_warm)

    @staticmethod
    def wanted(multivariate: bool, model: str = "hgb") -> bool:
        """Only for the scikit-learn classifiers, and only with a CPU to spare."""
        return multivariate and model in SKLEARN_MODELS and len(os.sched_getaffinity(0)) > 1

    def submit(self, reference: pd.DataFrame, current: pd.DataFrame, features: list[str],
               alpha: float, seed: int) -> Future[DomainResult] | None:
        if self.pool is None:
            return None
        try:
            return self.pool.submit(_classify, reference[features], current[features],
                                    features, self.model, alpha, seed)
        except Exception:  # a broken pool: run in process instead
            return None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None


def check_raw(reference: pd.DataFrame, current: pd.DataFrame, *, config: DriftConfig,
              worker: DomainWorker | None, label_column: str | None,
              prediction_column: str | None, time_column: str | None, windows: int,
              multivariate: bool, detector: str, meta: dict[str, Any],
              probability_column: str | None = None, threshold: float = 0.5,
              multivariate_model: str = "qda") -> DriftCheck:
    """:func:`~rampup.drift.check.check_frames`, with the domain classifier in ``worker``
    (when given) while the per-feature tests run here."""
    from rampup.drift.check import check_frames

    run: Callable[[bool], DriftCheck] = lambda mv: check_frames(  # noqa: E731
        reference, current, config=config, label_column=label_column,
        prediction_column=prediction_column, time_column=time_column, windows=windows,
        multivariate=mv, detector=detector, meta=meta,
        probability_column=probability_column, threshold=threshold,
        multivariate_model=multivariate_model)
    skip = {c for c in (label_column, prediction_column, time_column, probability_column)
            if c is not None}
    features = [c for c in reference.columns if c not in skip]
    ordered = current
    if time_column is not None and time_column in current.columns:  # as check_frames does
        ordered = current.sort_values(time_column, kind="stable").reset_index(drop=True)
    pending = worker.submit(reference, ordered, features, config.alpha, config.seed) \
        if worker is not None and multivariate and features else None
    if pending is None:
        return run(multivariate)
    check = run(False)
    try:
        domain = pending.result()
    except Exception:  # the worker died: the classifier runs here after all
        return run(multivariate)
    # re-decided with the classifier: one error budget across it and the feature tests
    from rampup.drift.report import with_multivariate

    return dataclasses.replace(check, report=with_multivariate(check.report, domain, config))
