"""``POST /v1/models/{pipeline}/predict`` for a pipeline: its stages run in order.

Each stage is a registered model served through its own deployment: its router picks the
stage's version from the request key (so a canary or a shadow of one stage works inside
the pipeline, and the stage's rollout judges these predictions), its validator checks
the stage's input, its micro-batcher runs it. A record leaves the pipeline at the first
stage whose ``stop_when`` is true (early stop), or after the last stage.

Logging (one request id ties the rows together):

* one row per record and stage, under the **stage's model** (so the stage's versions,
  rollouts, drift and monitor see its traffic), with ``stage = "<pipeline>/<stage>"``,
  id ``<record id>/<stage index>`` (feedback can name it: ``{"stage": "asr"}``);
* one end-to-end row per record under the **pipeline's name**, ``stage`` unset, id the
  record id (feedback on the request id lands here), version the routed stage versions
  joined by ``+`` (``v1+v2``), latency end to end, output the final one with ``stage``
  (who answered) and ``early_stop``.

Automation: a pipeline with an ``automation`` block of its own (a level below ``full``,
or audits) has its end-to-end answers decided like a plain model's — low-confidence
ones (the final stage's confidence) or audited ones go to the pipeline's review queue,
and a reviewer's label (a transcriber typing the transcript) joins the end-to-end row.

Errors: bad input for a stage (from the request) → 422 naming the field and the stage;
a stage that raises, is not deployed, or gets an invalid value from an earlier stage →
a 5xx :class:`~rampup.serving.pipeline_spec.PipelineError` naming the stage; failed rows
are logged with their error at the stage and end to end. The model-level automation hook
of plain models does not run inside a pipeline.

Known limits: a request's input errors are counted in the pipeline's end-to-end windows
(``invalid_input_rate``), not the stage's; a stage window counts a multi-record request
as a request (latency, errors) only when the request's first record reached the stage
(every record still counts as a prediction); mirrored stage calls are logged as the
stage model's shadows without the stage tag (the stage's rollout pairs them all the same).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from rampup.errors import ModelError, RampupError, ValidationError
from rampup.predlog.feedback import FeedbackItem
from rampup.predlog.ids import new_id
from rampup.predlog.writer import PredictionRecord
from rampup.project import ModelSpec, ProjectFile
from rampup.registry.predictor import PredictionBatch
from rampup.serving import shadow
from rampup.serving.auth import require_predict
from rampup.serving.calls import read_body, run_version
from rampup.serving.errors import error_response
from rampup.serving.pipeline_spec import (
    INPUT,
    PipelineError,
    PipelineSpec,
    StageSpec,
    StopExpr,
    compile_stop,
    read_path,
    stage_tag,
)
from rampup.serving.responses import dumps
from rampup.serving.runtime import LoadedVersion, ServedModel
from rampup.serving.state import AppState, app_state
from rampup.serving.validation import as_records, parse_json

VERSION_MAX = 63


def pipeline_of(st: AppState, name: str) -> PipelineSpec | None:
    spec = st.project.models.get(name)
    return spec.pipeline if spec is not None else None


def stage_row_id(record_id: str, index: int) -> str:
    """The prediction id of one record's row at stage ``index``.

    >>> stage_row_id("0192abc", 1), stage_row_id("0192abc-3", 0)
    ('0192abc/1', '0192abc-3/0')
    """
    return f"{record_id}/{index}"


def combined_version(versions: list[str]) -> str:
    """The end-to-end rows' version: the stage versions joined by ``+`` (hashed when
    longer than the store's column).

    >>> combined_version(["v1", "v2"])
    'v1+v2'
    """
    joined = "+".join(versions)
    if len(joined) <= VERSION_MAX:
        return joined
    return "p-" + hashlib.blake2b(joined.encode(), digest_size=8).hexdigest()


@dataclass
class _Stage:
    index: int
    spec: StageSpec
    tag: str
    served: ServedModel
    lv: LoadedVersion
    route: str
    stop: StopExpr | None


def _route(st: AppState, name: str, pipe: PipelineSpec, key: str | None) -> list[_Stage]:
    stages = []
    for i, s in enumerate(pipe.stages):
        served = st.runtime.models.get(s.model)
        if served is None:
            raise PipelineError(f"stage {s.stage!r} of {name}: model {s.model!r} is not "
                                "deployed here", fix=f"register and deploy {s.model!r}",
                                stage=s.stage)
        version, bucket = served.router.assign(key)
        route = f"{s.stage}={version}" + (f" (bucket {bucket})" if bucket >= 0 else "")
        stages.append(_Stage(i, s, stage_tag(name, s.stage), served, served.versions[version],
                             route, compile_stop(s.stop_when) if s.stop_when else None))
    return stages


def _stage_input(stage: _Stage, record: Any, outputs: Mapping[str, Any]) -> Any:
    """The record a stage validates: the request's fields it declares (all of them for a
    free-form stage), then its mapped ``inputs``."""
    if not isinstance(record, dict):
        return record
    schema = stage.lv.schema
    if schema.features and not schema.allow_extra:
        names = schema.names
        rec = {k: record[k] for k in names if k in record}
    else:
        rec = dict(record)
    for feature, ref in (stage.spec.inputs or {}).items():
        source, _, field = ref.partition(".")
        if source == INPUT:
            if field in record:
                rec[feature] = record[field]
        else:
            rec[feature] = read_path(outputs[source], field)
    return rec


def _request_key(request: Request, spec: ModelSpec, records: list[Any]) -> str | None:
    key = request.headers.get(spec.request_key.header)
    if key:
        return key[:255]
    field = spec.request_key.field
    if field and isinstance(records[0], dict) and records[0].get(field) is not None:
        return str(records[0][field])[:255]
    return None


def _input_error(stage: _Stage, exc: ValidationError) -> RampupError:
    field = exc.details.get("field")
    ref = (stage.spec.inputs or {}).get(str(field)) if field is not None else None
    if ref is not None and not ref.startswith(INPUT + "."):
        return PipelineError(f"stage {stage.spec.stage!r} got an invalid {field!r} from "
                             f"{ref}: {exc.message}", fix="check the stage's 'inputs' and "
                             "what the earlier stage returns", stage=stage.spec.stage,
                             field=field)
    details = {k: v for k, v in exc.details.items() if k != "field"}
    return ValidationError(f"stage {stage.spec.stage!r}: {exc.message}", fix=exc.fix,
                           field=field, stage=stage.spec.stage, **details)


class _Run:
    """One pipeline request: the stages run over the records still active."""

    def __init__(self, st: AppState, name: str, rid: str, records: list[Any],
                 key: str | None, stages: list[_Stage]) -> None:
        self.st, self.name, self.rid, self.records, self.key = st, name, rid, records, key
        self.stages = stages
        n = len(records)
        self.ids = [rid] if n == 1 else [f"{rid}-{i}" for i in range(n)]
        self.outputs: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
        self.final: list[tuple[_Stage, dict[str, Any]] | None] = [None] * n
        self.version = combined_version([s.lv.name for s in stages])

    async def run(self) -> None:
        active = list(range(len(self.records)))
        for stage in self.stages:
            if not active:
                break
            inputs = [_stage_input(stage, self.records[i], self.outputs[i]) for i in active]
            t0 = time.perf_counter()
            try:
                out = await run_version(stage.lv, inputs)
            except ValidationError as exc:
                raise _input_error(stage, exc) from None
            except ModelError as exc:
                ms = (time.perf_counter() - t0) * 1000.0
                self._log_stage(stage, active, inputs, None, ms, exc.message)
                raise PipelineError(f"stage {stage.spec.stage!r} ({stage.spec.model}@"
                                    f"{stage.lv.name}) failed: {exc.message}", fix=exc.fix,
                                    stage=stage.spec.stage) from None
            ms = (time.perf_counter() - t0) * 1000.0
            self._log_stage(stage, active, inputs, out, ms, None)
            self._keep_decoded(active, inputs)
            last = stage.index == len(self.stages) - 1
            still = []
            for j, i in enumerate(active):
                item = out.record(j)
                self.outputs[i][stage.spec.stage] = item
                if last or (stage.stop is not None and stage.stop.evaluate(
                        item, self.records[i])):
                    self.final[i] = (stage, item)
                else:
                    still.append(i)
            active = still

    def _keep_decoded(self, active: list[int], inputs: list[Any]) -> None:
        """The request records take the image/audio values a stage decoded, so the
        end-to-end row logs their summary (hash, metrics) rather than base64 text, later
        stages do not decode them again, and a review item shows the media."""
        for j, i in enumerate(active):
            record, stage_input = self.records[i], inputs[j]
            if not isinstance(record, dict) or not isinstance(stage_input, dict):
                continue
            for k, v in stage_input.items():
                if k in record and hasattr(v, "to_log") and hasattr(v, "data"):
                    record[k] = v

    def _log_stage(self, stage: _Stage, active: list[int], inputs: list[Any],
                   out: PredictionBatch | None, ms: float, error: str | None) -> None:
        st, model, version = self.st, stage.spec.model, stage.lv.name
        now = time.time()
        ids = [stage_row_id(self.ids[i], stage.index) for i in active]
        conf = out.confidence if out is not None else None
        recs = [PredictionRecord(pid, self.rid, now, model, version, "answer", inputs[j],
                                 out.record(j) if out is not None else None,
                                 conf[j] if conf is not None else None, ms, error, self.key,
                                 stage.tag) for j, pid in enumerate(ids)]
        m = st.metrics
        m.requests.labels(model, version, "ok" if error is None else "5xx").inc()
        m.latency.labels(model, version).observe(ms / 1000.0)
        m.records.labels(model, version, "answer").inc(len(recs))
        if error is None and stage.served.policy.mirrors:
            mirrors = [v for v in stage.served.router.mirrors() if v != version]
            if mirrors:
                shadow.schedule(st, model, mirrors, inputs, ids, self.rid, self.key)
        st.protect(recs)  # privacy rules first: the monitor never sees a protected value
        if st.monitor is not None:
            st.monitor.offer(recs)
        if not st.writer.try_submit(recs):
            m.log_dropped.inc(len(recs))
            st.writer.stats.dropped += len(recs)

    def items(self) -> list[dict[str, Any]]:
        """The response's predictions (and the end-to-end outputs, without ``stages``)."""
        out = []
        for i, pid in enumerate(self.ids):
            done = self.final[i]
            assert done is not None  # every active record is finished by the last stage
            stage, item = done
            out.append({"id": pid, **item, "stage": stage.spec.stage,
                        "early_stop": stage.index < len(self.stages) - 1,
                        "stages": {s.spec.stage: {"id": stage_row_id(pid, s.index),
                                                  "model": s.spec.model,
                                                  "version": s.lv.name,
                                                  **self.outputs[i][s.spec.stage]}
                                   for s in self.stages if s.spec.stage in self.outputs[i]}})
        return out


async def predict(request: Request, name: str, pipe: PipelineSpec) -> Response:
    st = app_state(request)
    t0 = time.perf_counter()
    rid = new_id()
    request.state.request_id = rid
    m = st.metrics
    m.in_flight.inc()
    records: list[Any] = []
    run: _Run | None = None
    version = "-"
    try:
        require_predict(request, st.settings.predict_token, st.settings.admin_token)
        body = await read_body(request, st.settings.max_body_bytes)
        records, _single = as_records(parse_json(body, st.settings.max_json_depth),
                                     st.settings.max_records)
        spec = st.project.models[name]
        key = _request_key(request, spec, records)
        run = _Run(st, name, rid, records, key, _route(st, name, pipe, key))
        version = run.version
        await run.run()
        preds = run.items()
        shown = _automate(st, name, run, preds)
    except RampupError as exc:
        ms = (time.perf_counter() - t0) * 1000.0
        m.errors.labels(name, version, exc.code).inc()
        status = "5xx" if isinstance(exc, ModelError) else "4xx"
        m.requests.labels(name, version, status).inc()
        if isinstance(exc, ModelError) and run is not None:
            failed = [PredictionRecord(pid, rid, time.time(), name, version, "answer",
                                       records[i], None, None, ms, exc.message, run.key)
                      for i, pid in enumerate(run.ids)]
            if st.monitor is not None:
                st.monitor.offer(failed)
            await st.writer.submit_async(failed)
        elif st.monitor is not None:
            st.monitor.note_error(name, version, exc.code, ms)
        return error_response(exc, rid, extra_headers={"x-model-version": version}
                              if version != "-" else None)
    finally:
        m.in_flight.dec()
    assert run is not None
    response = Response(
        dumps({"request_id": rid, "model": name, "version": version,
               "versions": {s.spec.stage: s.lv.name for s in run.stages},
               "predictions": shown}), 200,
        headers={"x-request-id": rid, "x-model-version": version,
                 "x-route": "; ".join(s.route for s in run.stages)},
        media_type="application/json")
    latency = time.perf_counter() - t0
    m.requests.labels(name, version, "ok").inc()
    m.latency.labels(name, version).observe(latency)
    m.records.labels(name, version, "answer").inc(len(records))
    now = time.time()
    logged = [PredictionRecord(
        p["id"], rid, now, name, version, "answer", records[i],
        {k: v for k, v in p.items() if k not in ("stages", "id")},
        p.get("confidence"), latency * 1000.0, None, run.key) for i, p in enumerate(preds)]
    await st.record(name, version, logged)
    return response


def _automate(st: AppState, name: str, run: _Run, preds: list[dict[str, Any]]
              ) -> list[dict[str, Any]]:
    """The pipeline's own automation level over its end-to-end answers (see the module
    doc); the answers as they are when it has none."""
    auto = st.automation
    if auto is None or (auto.level(name) == "full" and auto.spec(name).audit_rate == 0):
        return preds
    out = PredictionBatch([p.get("prediction") for p in preds],
                          confidence=[p.get("confidence") for p in preds])
    last = run.stages[-1].lv.output
    return auto.annotate(name, run.version, last, run.records, out, run.ids, run.rid, preds)


def describe_pipeline(st: AppState, name: str) -> dict[str, Any]:
    """``GET /v1/models/{pipeline}``: the stages and each stage model's live policy."""
    pipe = st.project.pipelines()[name]
    stages = []
    for s in pipe.stages:
        served = st.runtime.models.get(s.model)
        stages.append({"stage": s.stage, "model": s.model, "tag": stage_tag(name, s.stage),
                       "stop_when": s.stop_when, "inputs": s.inputs,
                       "deployment_id": served.deployment_id if served else None,
                       "routes": served.policy.routes if served else None,
                       "mirrors": served.policy.mirrors if served else None})
    return {"name": name, "pipeline": {"stages": stages}}


# -- feedback ------------------------------------------------------------------------------

def resolve_feedback(project: ProjectFile, name: str, items: list[FeedbackItem]
                     ) -> tuple[list[FeedbackItem], dict[str, str]]:
    """Items with a ``stage`` are about that stage's row of the request: their
    ``request_id`` becomes the stage row's id. Returns the items and, per id, the model
    that owns it (the stage's model; the pipeline's for end-to-end feedback).

    >>> p = ProjectFile.model_validate({"models": {"a": {}, "b": {}, "ab": {"pipeline": {
    ...     "stages": [{"model": "a"}, {"model": "b"}]}}}})
    >>> items, owners = resolve_feedback(p, "ab", [FeedbackItem(request_id="r1", label=1,
    ...                                                         stage="b")])
    >>> items[0].request_id, owners
    ('r1/1', {'r1/1': 'b'})
    """
    spec = project.models.get(name)
    pipe = spec.pipeline if spec is not None else None
    out: list[FeedbackItem] = []
    owners: dict[str, str] = {}
    for item in items:
        if item.stage is None:
            out.append(item)
            continue
        if pipe is None:
            raise ValidationError(f"stage={item.stage!r} but {name!r} is not a pipeline",
                                  fix="leave 'stage' out", field="stage")
        names = pipe.names()
        if item.stage not in names:
            raise ValidationError(f"{name!r} has no stage {item.stage!r} (stages: "
                                  f"{', '.join(names)})", fix="name one of its stages",
                                  field="stage")
        index = names.index(item.stage)
        rid = stage_row_id(item.request_id, index)
        owners[rid] = pipe.stages[index].model
        out.append(item.model_copy(update={"request_id": rid, "stage": None}))
    return out, owners
