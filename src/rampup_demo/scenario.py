"""What the demo's world looks like right now: the traffic's drift, a broken upstream
field and a slow dependency, changed live by the demo's story.

:class:`Scenario` is the one mutable thing the story turns: the load generator's rows
come through :meth:`Scenario.records` (drift switches, a field that arrives empty), and
the served model calls a simulated feature lookup through :class:`WithDependency`, whose
latency the story raises during the incident. The server runs in the demo's own process,
so both read the same object; nothing else in rampup knows about it.

>>> s = Scenario(seed=3)
>>> rows = s.records()
>>> first = next(rows)
>>> first["credit_score"] is None or isinstance(first["credit_score"], (int, float))
True
>>> s.break_field("credit_score", 1.0)
>>> all(next(rows)["credit_score"] is None for _ in range(300))
True
>>> s.repair()
>>> s.describe()
'healthy'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rampup.registry.predictor import FeatureBatch, PredictionBatch, Predictor
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.store import VersionRecord
from rampup_demo.data import LoanGenerator

CHUNK = 32  # rows drawn per generator call: a switch takes effect within ~1 s at 50/s
TRANSCRIPT = "transcript"  # the speech rows' label column


@dataclass
class Scenario:
    """The knobs the story turns (see the module doc). Changes apply to the next rows."""

    seed: int = 0
    generator: LoanGenerator = field(init=False)
    broken_field: str | None = None
    broken_share: float = 0.0
    dependency_ms: float = 0.0
    pipeline_drift: bool = False  # the speech pipeline's microphone gain rises
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.generator = LoanGenerator(self.seed)
        self._rng = np.random.default_rng([self.seed, 17])

    # -- the switches --------------------------------------------------------------------

    def break_field(self, name: str, share: float) -> None:
        """``name`` arrives empty in a ``share`` of the rows (a broken upstream feed)."""
        self.broken_field, self.broken_share = name, share

    def slow_dependency(self, ms: float) -> None:
        self.dependency_ms = ms

    def repair(self) -> None:
        self.broken_field, self.broken_share, self.dependency_ms = None, 0.0, 0.0

    def drift(self, *, data: float | None = None, concept: float | None = None) -> None:
        if data is not None:
            self.generator.data_drift = data
        if concept is not None:
            self.generator.concept_drift = concept

    def describe(self) -> str:
        parts = []
        if self.broken_field:
            parts.append(f"{self.broken_field} empty in {self.broken_share:.0%} of rows")
        if self.dependency_ms:
            parts.append(f"feature lookup +{self.dependency_ms:g} ms")
        if self.generator.data_drift:
            parts.append(f"data drift {self.generator.data_drift:g}")
        if self.generator.concept_drift:
            parts.append(f"concept drift {self.generator.concept_drift:g}")
        if self.pipeline_drift:
            parts.append("microphone gain up")
        return ", ".join(parts) or "healthy"

    # -- what the traffic sends ----------------------------------------------------------

    def records(self) -> Iterator[dict[str, Any]]:
        """An endless stream of rows (features and the true label) as the world is now."""
        while True:
            for row in self.generator.records(CHUNK):
                if self.broken_field and self._rng.random() < self.broken_share:
                    row[self.broken_field] = None
                yield row


    def speech(self) -> Iterator[dict[str, Any]]:
        """Requests for the demo's speech pipeline, each with its true transcript."""
        from rampup_demo.pipeline import requests, transcript

        rng = np.random.default_rng([self.seed, 23])
        while True:
            for row in requests(rng, CHUNK, drift=self.pipeline_drift):
                row[TRANSCRIPT] = transcript(row)
                yield row


class WithDependency:
    """A served version that first calls the (simulated) credit-bureau lookup: a model's
    latency is its own plus its dependencies'. The lookup takes ``scenario.dependency_ms``
    per call (nothing when healthy)."""

    def __init__(self, inner: Predictor, scenario: Scenario) -> None:
        self.inner, self.scenario = inner, scenario

    @property
    def flavor(self) -> str:
        return self.inner.flavor

    @property
    def input_schema(self) -> InputSchema:
        return self.inner.input_schema

    @property
    def output(self) -> OutputSpec:
        return self.inner.output

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        delay = self.scenario.dependency_ms
        if delay > 0:
            time.sleep(delay / 1000.0)
        return self.inner.predict(batch)


def with_dependency(load: Callable[[VersionRecord], Predictor],
                    scenario: Scenario) -> Callable[[VersionRecord], Predictor]:
    """A version loader for ``create_app(load=...)`` wrapping every loan-model version it
    loads (the speech pipeline's Python-flavor stages call no bureau)."""

    def loader(record: VersionRecord) -> Predictor:
        predictor = load(record)
        return predictor if record.flavor == "python" else WithDependency(predictor, scenario)

    return loader
