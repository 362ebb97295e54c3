"""What a server process has loaded: models, their deployment policies and predictors.

:meth:`Runtime.refresh` (called at start and by a poller) notices new deployment rows
in the store with one cheap query, loads the versions a new policy needs (reusing the
ones already loaded) and swaps the model's state in one assignment, so requests see
either the old policy or the new one, never a mix. The swap is fenced too: deployment
ids only grow, so a refresh that read an older deployment (it was slow, or paused while
another refresh went ahead) never replaces a newer one.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field

from rampup.errors import ModelError, NotFoundError
from rampup.project import ModelSpec, ProjectFile
from rampup.registry.predictor import FeatureBatch, PredictionBatch, Predictor
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.router import Router
from rampup.security.privacy import protected_fields
from rampup.serving.batching import MicroBatcher
from rampup.serving.human import HUMAN, HumanPredictor, human_record, media_schema
from rampup.serving.inline import DEFAULT_BUDGET_S, InlineBudget
from rampup.serving.validation import Validator
from rampup.store import Database, VersionRecord

log = logging.getLogger("rampup.serving")

class CpuTally:
    """CPU seconds spent inside a version's model calls, and how many calls (thread-safe:
    calls run inline and on worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = 0.0
        self.calls = 0

    def add(self, seconds: float) -> None:
        with self._lock:
            self.seconds += max(0.0, seconds)
            self.calls += 1

    def read(self) -> tuple[float, int]:
        with self._lock:
            return self.seconds, self.calls


class LoadedVersion:
    """A predictor plus what serving needs around it: validator, batcher, timing."""

    def __init__(self, record: VersionRecord, predictor: Predictor, spec: ModelSpec,
                 inline_budget_s: float = DEFAULT_BUDGET_S,
                 protected: Collection[str] = ()) -> None:
        self.record = record
        self.name = record.version
        self.predictor = predictor
        if not spec.compiled and getattr(predictor, "compiled", None) is not None:
            predictor.compiled = None  # type: ignore[attr-defined]  # the estimator's own
        self.schema = InputSchema.from_dict(record.input_schema)
        self.output = OutputSpec.from_dict(record.output)
        ignore = [spec.request_key.field] if spec.request_key.field else []
        self.validator = Validator(self.schema, ignore=ignore, protected=protected)
        self.executor: Executor | None = None  # set by the runtime; None: asyncio's default
        self.cost = InlineBudget(inline_budget_s)  # decides inline vs executor per call
        self.clock: Callable[[], float] = time.perf_counter  # what a call's cost is timed with
        self.batcher: MicroBatcher | None = None
        self.model_cpu = CpuTally()
        if spec.batching.enabled:
            self.batcher = MicroBatcher(self.run, max_batch_size=spec.batching.max_batch_size,
                                        max_wait=spec.batching.max_wait_ms / 1000.0,
                                        max_in_flight=spec.batching.max_in_flight)

    async def run(self, batch: FeatureBatch,
                  executor: Executor | None = None) -> PredictionBatch:
        """Call the model: inline while this call's estimated duration is within the
        inline budget (:mod:`rampup.serving.inline`), else on a worker thread
        (``executor``: shadow calls get their own pool so a hung mirror cannot starve
        the primary)."""
        if executor is None and self.cost.inline(batch.n):
            out, dt = self._timed(batch)
        else:
            # Timed inside the worker: the hop and the loop's queue are not the model's cost.
            out, dt = await asyncio.get_running_loop().run_in_executor(
                executor or self.executor, self._timed, batch)
        self.cost.observe(batch.n, dt)
        if len(out) != batch.n:
            raise ModelError(f"version {self.name} returned {len(out)} outputs for "
                             f"{batch.n} inputs",
                             fix="make predict return one output per input record")
        return out

    def _timed(self, batch: FeatureBatch) -> tuple[PredictionBatch, float]:
        t0, c0 = self.clock(), time.thread_time()
        try:
            out = self.predictor.predict(batch)
        finally:
            # this thread's CPU inside the model: the version's own cost, apart from the
            # process's (threads a library starts itself, e.g. BLAS, are not counted)
            self.model_cpu.add(time.thread_time() - c0)
        return out, self.clock() - t0

    async def predict(self, batch: FeatureBatch) -> PredictionBatch:
        if self.batcher is not None:
            return await self.batcher.submit(batch)
        return await self.run(batch)


@dataclass
class ServedModel:
    name: str
    spec: ModelSpec
    deployment_id: int
    policy: DeploymentPolicy
    router: Router
    versions: dict[str, LoadedVersion]
    loaded_at: float = field(default_factory=time.time)


LoadFn = Callable[[VersionRecord], Predictor]


class Runtime:
    """The models a process serves. Reads the store; never writes it."""

    def __init__(self, store: Database, load: LoadFn, project: ProjectFile | None = None,
                 rng: random.Random | None = None,
                 inline_budget_s: float = DEFAULT_BUDGET_S) -> None:
        self.store = store
        self.inline_budget_s = inline_budget_s
        self._load = load
        self.project = project or ProjectFile()
        self._rng = rng or random.Random()
        self.models: dict[str, ServedModel] = {}
        self._pinned: dict[tuple[str, str], LoadedVersion] = {}
        self.load_errors: dict[str, str] = {}
        # Model calls and shadow calls run on separate pools, apart from the store's
        # threads (asyncio.to_thread), so a slow or hung model cannot block the others.
        self.model_executor = ThreadPoolExecutor(8, thread_name_prefix="rampup-model")
        self.shadow_executor = ThreadPoolExecutor(4, thread_name_prefix="rampup-shadow")
        self.last_refresh = 0.0
        self._swap = threading.Lock()

    def spec(self, model: str) -> ModelSpec:
        return self.project.models.get(model) or ModelSpec()

    def get(self, name: str) -> ServedModel:
        served = self.models.get(name)
        if served is None:
            known = ", ".join(sorted(self.models)) or "none yet"
            if name in self.load_errors:
                raise ModelError(f"model {name!r} failed to load: {self.load_errors[name]}",
                                 fix="check the version's artifact and 'rampup show'")
            raise NotFoundError(f"model {name!r} is not served here (served: {known})",
                                fix="check the name, or register and deploy it", model=name)
        return served

    def refresh(self) -> list[str]:
        """Load any model whose deployment changed. Returns the models that changed."""
        latest = self.store.deployments.latest_deployment_ids()
        changed = []
        for model, dep_id in latest.items():
            current = self.models.get(model)
            if current is not None and current.deployment_id == dep_id:
                continue
            try:
                self._load_model(model, current)
                self.load_errors.pop(model, None)
                changed.append(model)
            except Exception as exc:  # keep serving the old policy; report on /readyz
                self.load_errors[model] = f"{type(exc).__name__}: {exc}"
                log.exception("could not load the new deployment of %s", model)
        self.last_refresh = time.time()
        return changed

    def _load_model(self, model: str, current: ServedModel | None) -> None:
        dep = self.store.deployments.current_deployment(model)
        if dep is None:  # pragma: no cover - latest_deployment_ids said it exists
            return
        policy = DeploymentPolicy.from_dict(dep.policy)
        spec = self.spec(model)
        versions: dict[str, LoadedVersion] = {}
        for name in sorted(policy.versions()):
            if current is not None and name in current.versions:
                versions[name] = current.versions[name]
            else:
                versions[name] = self._load_version(model, name, spec)
        with self._swap:
            newest = self.models.get(model)
            if newest is not None and newest.deployment_id >= dep.id:
                log.info("not serving deployment %d of %s: deployment %d is newer", dep.id,
                         model, newest.deployment_id)
                return
            self.models[model] = ServedModel(model, spec, dep.id, policy,
                                             Router(policy, self._rng), versions)
        log.info("serving %s with deployment %d: %s", model, dep.id, policy.routes)

    def _load_version(self, model: str, version: str, spec: ModelSpec) -> LoadedVersion:
        if version == HUMAN:
            schema = media_schema(self.store.models.list_versions(model))
            lv = LoadedVersion(human_record(model, schema), HumanPredictor(), spec,
                               self.inline_budget_s, protected_fields(self.project, model))
            lv.executor = self.model_executor
            return lv
        record = self.store.models.get_version(model, version)
        if record is None:
            raise NotFoundError(f"version {model}@{version} is not registered",
                                fix="register it before deploying it")
        lv = LoadedVersion(record, self._load(record), spec, self.inline_budget_s,
                           protected_fields(self.project, model))
        lv.executor = self.model_executor
        return lv

    def close(self) -> None:
        self.model_executor.shutdown(wait=False, cancel_futures=True)
        self.shadow_executor.shutdown(wait=False, cancel_futures=True)

    def pinned(self, model: str, version: str) -> LoadedVersion:
        """A specific version (for /versions/{v}/predict), loaded on first use."""
        served = self.models.get(model)
        if served is not None and version in served.versions:
            return served.versions[version]
        key = (model, version)
        if key not in self._pinned:
            if served is None and self.store.models.get_model(model) is None:
                self.get(model)  # raises the not-found error
            self._pinned[key] = self._load_version(model, version, self.spec(model))
        return self._pinned[key]
