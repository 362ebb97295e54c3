"""The versions a batch run uses, loaded once, and prediction with a per-row fallback."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np

from rampup.batch.columns import Arr
from rampup.errors import ModelError, NotFoundError
from rampup.registry.predictor import FeatureBatch, PredictionBatch, Predictor
from rampup.registry.registry import Registry
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.router import Router
from rampup.store import Database, VersionRecord

log = logging.getLogger("rampup.batch")

# A version that fails on this many rows in a row, one by one, without a single
# success is broken, not fussy about some rows: the run stops instead of crawling on.
BROKEN_AFTER = 100


@dataclass
class Version:
    name: str
    record: VersionRecord
    predictor: Predictor
    schema: InputSchema
    output: OutputSpec
    predicted: int = 0


def load_versions(store: Database, registry: Registry, model: str, version: str | None,
                  rng: random.Random | None = None) -> tuple[Router, dict[str, Version]]:
    """The router for the run and every version it can route to, loaded.

    ``version`` pins one; otherwise the model's current deployment decides (mirrors and
    standby versions do not take part in a batch run).
    """
    if version is not None:
        policy = DeploymentPolicy.single(version)
    else:
        dep = store.deployments.current_deployment(model)
        if dep is None:
            if store.models.get_model(model) is None:
                raise NotFoundError(f"model {model!r} is not registered",
                                    fix="register it with 'rampup register MODEL PATH'")
            raise NotFoundError(f"model {model!r} has no deployment",
                                fix="deploy a version, or pin one with --version")
        policy = DeploymentPolicy.from_dict(dep.policy)
    routed = {v for v, bp in policy.weights_bp() if bp > 0}
    versions: dict[str, Version] = {}
    for name in (v for v in policy.routes if v in routed):
        record = registry.get(model, name)
        versions[name] = Version(name, record, registry.load(record),
                                 InputSchema.from_dict(record.input_schema),
                                 OutputSpec.from_dict(record.output))
    return Router(policy, rng), versions


def _checked(v: Version, batch: FeatureBatch) -> PredictionBatch:
    out = v.predictor.predict(batch)
    if len(out) != batch.n:
        raise ModelError(f"version {v.name} returned {len(out)} outputs for {batch.n} inputs",
                         fix="make predict return one output per input record")
    return out


def predict_rows(v: Version, batch: FeatureBatch,
                 ) -> tuple[Arr, PredictionBatch, list[tuple[int, str]]]:
    """Predict ``batch``; if the model raises, retry row by row.

    Returns (which rows were predicted, their outputs, (row index, message) of the rows
    that failed).
    """
    try:
        out = _checked(v, batch)
        v.predicted += batch.n
        return np.ones(batch.n, bool), out, []
    except Exception as exc:
        log.warning("version %s failed on a chunk of %d rows (%s: %s); retrying row by row",
                    v.name, batch.n, type(exc).__name__, exc)
    ok = np.zeros(batch.n, bool)
    parts: list[PredictionBatch] = []
    failures: list[tuple[int, str]] = []
    for k in range(batch.n):
        try:
            parts.append(_checked(v, batch.slice(k, k + 1)))
            ok[k] = True
        except Exception as exc:
            failures.append((k, f"{type(exc).__name__}: {exc}"[:500]))
            if len(failures) >= BROKEN_AFTER and not parts and v.predicted == 0:
                raise ModelError(f"version {v.name} failed on each of the first {len(failures)} "
                                 f"rows: {failures[0][1]}",
                                 fix="check the model with a few rows of the file "
                                     "(rampup predict-batch --chunk-size 10)") from exc
    v.predicted += len(parts)
    return ok, _join(parts), failures


def _join(parts: list[PredictionBatch]) -> PredictionBatch:
    preds = [p for b in parts for p in b.predictions]
    probs = None
    if parts and all(b.probabilities is not None for b in parts):
        probs = [p for b in parts for p in (b.probabilities or [])]
    conf = None
    if parts and all(b.confidence is not None for b in parts):
        conf = [c for b in parts for c in (b.confidence or [])]
    return PredictionBatch(preds, probs, conf)
