"""Page-shaped payloads for the dashboard, one call per panel.

Each function reads the store once for its panel (the metric windows of the whole range
in one query, all versions and roles together) and shapes the numbers with
:mod:`rampup.dashboard.panels`. ``now`` is passed in; the routes pass the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rampup.alerts.service import Alerts
from rampup.dashboard import panels
from rampup.dashboard.cache import BucketCache, Group, grouped_buckets
from rampup.dashboard.panels import Grid
from rampup.errors import NotFoundError, ValidationError
from rampup.monitor.aggregates import NO_STAGE, SECTIONS, WindowAggregate, WindowKey
from rampup.monitor.names import PROCESS_LEVELS
from rampup.project import ProjectFile
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.service import from_row, rollout_dict

if TYPE_CHECKING:
    from rampup.monitor.recorder import Monitor
    from rampup.store import Database

#: range name -> (seconds, chart step, heat-map step)
RANGES: dict[str, tuple[float, float, float]] = {
    "15m": (900.0, 60.0, 60.0),
    "1h": (3600.0, 60.0, 300.0),
    "6h": (21_600.0, 300.0, 900.0),
    "24h": (86_400.0, 600.0, 3600.0),
    "7d": (604_800.0, 3600.0, 21_600.0),
}
SOFTWARE = ("throughput", "server_error_rate", "client_error_rate", "latency_p50",
            "latency_p95", "latency_p99", "in_flight", "model_cpu_ms", "invalid_input_rate")
#: what a card shows for the last few minutes; health reads server errors and latency only
CARD_VALUES = ("requests", "throughput", "server_error_rate", "client_error_rate",
               "latency_p99")
GROUP_OUTPUTS = ("confidence_mean", "null_fraction", "output_mean")
PERFORMANCE = ("accuracy", "label_rate", "f1_macro", "mae")
HEALTH_WINDOW_S = 300.0
OVERVIEW_RANGE_S = 3600.0


def parse_range(text: str | None) -> tuple[float, float, float]:
    """The seconds, chart step and heat-map step of a range name.

    >>> parse_range("1h")
    (3600.0, 60.0, 300.0)
    """
    key = text or "1h"
    if key not in RANGES:
        raise ValidationError(f"range={key!r} is not a range",
                              fix=f"use one of {', '.join(RANGES)}", field="range")
    return RANGES[key]


@dataclass
class Sources:
    """What the panels read: the store, the project file and this replica's monitor."""

    store: Database
    project: ProjectFile
    monitor: Monitor | None = None
    cache: BucketCache | None = None

    def buckets(self, model: str, grid: Grid, until: float, sections: set[str] | None,
                stage: str = NO_STAGE) -> dict[Group, list[WindowAggregate | None]]:
        """The grid's buckets per (version, role), through the cache."""
        return grouped_buckets(self.store, model, grid, until, sections,
                               monitor=self.monitor, cache=self.cache, stage=stage)

    def windows(self, model: str, since: float, until: float, sections: set[str] | None,
                *, version: str | None = None) -> list[tuple[WindowKey, WindowAggregate]]:
        """All windows of the model's own records (every version and role) in range, in
        one query; this replica's in-memory windows replace its stored rows."""
        rows = self.store.windows.metric_windows(model, since=since, until=until, stage=NO_STAGE,
                                                 version=version)
        live: dict[WindowKey, WindowAggregate] = {}
        replica = None
        if self.monitor is not None:
            replica = self.monitor.replica
            live = {k: a for k, a in self.monitor.snapshot(model, since=since,
                                                           until=until).items()
                    if k.stage == NO_STAGE and (version is None or k.version == version)}
        out = list(live.items())
        want = set(SECTIONS) if sections is None else sections
        for r in rows:
            key = WindowKey(r["model"], r["version"], r["role"], r["stage"], r["window_start"])
            if r["replica"] == replica and key in live:
                continue
            out.append((key, WindowAggregate.from_dict(r["data"], want)))
        return out

    def processes(self, model: str, grid: Grid, until: float
                  ) -> dict[str, dict[str, list[float | None]]]:
        """Process levels (:data:`PROCESS_LEVELS`) per replica (``host:pid:id``). Every
        window a process wrote holds that process's level, whatever the version, so they
        are read per process, never per version (the largest in a step)."""
        out: dict[str, dict[str, list[float | None]]] = {m: {} for m in PROCESS_LEVELS}

        def put(replica: str, start: float, agg: WindowAggregate) -> None:
            i = grid.index(start)
            if i is None:
                return
            for m in PROCESS_LEVELS:
                g = agg.gauges.get(m)
                v = None if g is None else g.mean
                if v is not None:
                    s = out[m].setdefault(replica, [None] * grid.n)
                    old = s[i]
                    s[i] = v if old is None else max(old, v)

        rows = self.store.windows.metric_windows(model, since=grid.since, until=until,
                                                 role="answer", stage=NO_STAGE)
        replica = self.monitor.replica if self.monitor is not None else None
        for r in rows:
            if r["replica"] != replica:
                put(r["replica"], r["window_start"], WindowAggregate.from_dict(r["data"], set()))
        if self.monitor is not None:
            for k, agg in self.monitor.snapshot(model, since=grid.since, until=until).items():
                if k.role == "answer" and k.stage == NO_STAGE:
                    put(self.monitor.replica, k.start, agg)
        return out

    def models(self) -> dict[str, str]:
        """Every model (registered ones and the project's pipelines) -> description."""
        out = {m.name: m.description for m in self.store.models.list_models()}
        for name in self.project.pipelines():
            spec = self.project.models[name]
            out.setdefault(name, spec.description)
        return dict(sorted(out.items()))

    def exists(self, model: str) -> bool:
        return model in self.project.pipelines() or self.store.models.get_model(model) is not None

    def known_model(self, model: str) -> None:
        if not self.exists(model):
            known = ", ".join(self.models()) or "none"
            raise NotFoundError(f"model {model!r} does not exist (known: {known})",
                                fix="check the model name", field="name")

    def policy(self, model: str) -> tuple[DeploymentPolicy | None, int | None]:
        dep = self.store.deployments.current_deployment(model)
        if dep is None:
            return None, None
        return DeploymentPolicy.from_dict(dep.policy), dep.id

    def reference(self, model: str, version: str | None) -> tuple[str | None, dict[str, Any]]:
        """The reference version (the primary, else the newest) and its profile features."""
        versions = self.store.models.list_versions(model)
        rec = next((v for v in versions if v.version == version), None)
        if rec is None and versions:
            rec = versions[-1]
        if rec is None or not rec.profile:
            return (rec.version if rec else None), {}
        feats = rec.profile.get("features") or {}
        return rec.version, dict(feats)

    def slo(self, model: str) -> dict[str, Any]:
        spec = self.project.models.get(model)
        return spec.slo.model_dump() if spec is not None else {}

    def automation(self, model: str) -> str | None:
        """The model's automation level (run-time override, else the project file's)."""
        from rampup.automation.service import Automation

        level = Automation(self.store, self.project).level(model).get("level")
        return None if level is None else str(level)

    def pipeline(self, model: str) -> list[str] | None:
        """The stage names when the model is a pipeline."""
        spec = self.project.pipelines().get(model)
        return None if spec is None else [s.stage for s in spec.stages]

    def stage_uses(self) -> dict[str, list[tuple[str, str, str]]]:
        """model -> every (pipeline, stage name, stage tag) that runs it as a stage."""
        from rampup.monitor.pipelines import stage_map

        out: dict[str, list[tuple[str, str, str]]] = {}
        for pipe, stages in stage_map(self.project).items():
            for stage, (model, tag) in stages.items():
                out.setdefault(model, []).append((pipe, stage, tag))
        return out

def _label(group: Group) -> str:
    return f"{group[0]} · {group[1]}"


def _per_group(buckets: dict[str, list[WindowAggregate | None]], metrics: Iterable[str],
               grid: Grid, now: float) -> dict[str, dict[str, panels.Series]]:
    out: dict[str, dict[str, panels.Series]] = {m: {} for m in metrics}
    for g, bs in buckets.items():
        for m, s in panels.series(bs, out, grid, now=now).items():
            if any(v is not None for v in s):
                out[m][g] = s
    return out


def _present(s: dict[str, panels.Series]) -> dict[str, panels.Series]:
    return {k: v for k, v in s.items() if any(x is not None for x in v)}


def stage_of(src: Sources, pipeline: str, stage: str) -> tuple[str, str]:
    """(the stage's model, its stage tag) for a stage of a pipeline (404 otherwise)."""
    from rampup.monitor.pipelines import stage_map

    stages = stage_map(src.project).get(pipeline)
    if stages is None or stage not in stages:
        known = ", ".join(stages or {}) or "none"
        raise NotFoundError(f"{pipeline!r} has no stage {stage!r} (stages: {known})",
                            fix="name a stage of a pipeline", field="stage")
    return stages[stage]


def model_metrics(src: Sources, model: str, range_name: str | None, now: float,
                  stage: str | None = None) -> dict[str, Any]:
    """Everything over time on a model page: software per version and role, inputs,
    outputs, performance and the drift heat map, from one read of the windows. With
    ``stage`` (``model`` a pipeline), the same for that stage's rows under its model,
    its inputs beside that model's reference."""
    tag = NO_STAGE
    if stage is not None:
        model, tag = stage_of(src, model, stage)
    src.known_model(model)
    range_s, step, heat_step = parse_range(range_name)
    grid = Grid.for_range(range_s, now=now, step=step)
    raw = src.buckets(model, grid, now + 1.0, None, stage=tag)
    groups = {_label(g): b for g, b in raw.items()}
    answer = panels.merge_buckets([b for g, b in raw.items() if g[1] == "answer"], grid)
    policy, _ = src.policy(model)
    ref_version, reference = src.reference(model, policy.primary if policy else None)

    feats: dict[str, Any] = {}
    for name, entry in reference.items():
        kind = entry.get("kind")
        stat = {"numeric": "mean", "categorical": "unseen_fraction",
                "text": "length_mean"}.get(str(kind), "count")
        s = panels.series(answer, [f"feature[{name}].missing_fraction",
                                   f"feature[{name}].{stat}"], grid, now=now)
        feats[name] = {"kind": kind, "stat": stat,
                       "missing_fraction": s[f"feature[{name}].missing_fraction"],
                       "values": s[f"feature[{name}].{stat}"],
                       "reference_missing": entry.get("missing_fraction"),
                       "reference_mean": entry.get("mean")}
    seen: dict[str, set[str]] = {"classes": set(), "events": set(), "custom": set()}
    for b in answer:
        if b is not None:
            seen["classes"].update(b.output.classes.counts)
            seen["events"].update(b.events.counts)
            seen["custom"].update(b.custom)
    classes = sorted(seen["classes"])
    outputs = {
        "class_share": _present({c: panels.series(answer, [f"class_share[{c}]"], grid,
                                                  now=now)[f"class_share[{c}]"]
                                 for c in classes}),
        "events": _present({e: panels.series(answer, [f"event_rate[{e}]"], grid,
                                             now=now)[f"event_rate[{e}]"]
                            for e in sorted(seen["events"])}),
        "repeated_query_rate": panels.series(answer, ["repeated_query_rate"], grid,
                                             now=now)["repeated_query_rate"],
        **_per_group(groups, GROUP_OUTPUTS, grid, now),
    }
    custom = _present({c: panels.series(answer, [f"custom[{c}].mean"], grid,
                                        now=now)[f"custom[{c}].mean"]
                       for c in sorted(seen["custom"])})

    heat_grid = grid.coarser(heat_step)
    primary = raw.get((ref_version or "", "answer"), [None] * grid.n)
    into = [heat_grid.index(t) for t in grid.times()]
    cells = panels.drift_cells(primary, reference, n=heat_grid.n, into=into)
    unseen = panels.unseen_cells(primary, reference, n=heat_grid.n, into=into)
    return {
        "model": model, "stage": stage, "range": range_name or "1h", "now": now,
        "since": grid.since,
        "step": step, "t": grid.times(), "groups": list(groups), "slo": src.slo(model),
        "software": _per_group(groups, SOFTWARE, grid, now),
        "processes": src.processes(model, grid, now + 1.0),
        "inputs": {"features": feats, "custom": custom,
                   "input_length_mean": panels.series(answer, ["input_length_mean"], grid,
                                                      now=now)["input_length_mean"]},
        "outputs": outputs,
        "performance": _per_group(groups, PERFORMANCE, grid, now),
        "drift": {"reference_version": ref_version, "statistic": "js_corrected", "step": heat_step,
                  "t": heat_grid.times(), "features": list(cells),
                  "cells": [cells[f] for f in cells], "warn": panels.DRIFT_WARN,
                  "alert": panels.DRIFT_ALERT, "unseen": unseen,
                  **panels.drift_status(cells)},
        "points": sum(1 for v in (_per_group(groups, ["requests"], grid, now)["requests"]
                                  .values()) for x in v if x),
    }


def feature_histogram(src: Sources, model: str, feature: str, since: float, until: float
                      ) -> dict[str, Any]:
    """Reference against live distribution of one feature over ``[since, until)`` (the
    primary version's answers: the heat map's cell)."""
    src.known_model(model)
    if until <= since:
        raise ValidationError("until must be after since", fix="swap them", field="until")
    policy, _ = src.policy(model)
    version, reference = src.reference(model, policy.primary if policy else None)
    entry = reference.get(feature)
    if entry is None:
        raise NotFoundError(f"feature {feature!r} is not in {model}@{version}'s reference "
                            "profile", fix="pick one of " + (", ".join(reference) or "none"),
                            field="feature")
    merged = WindowAggregate()
    for key, agg in src.windows(model, since, until, {"inputs"}, version=version):
        if key.role == "answer":
            merged.merge(agg)
    out = panels.histogram(feature, entry, merged.features.get(feature))
    return {"model": model, "version": version, "since": since, "until": until, **out}


def deployment(src: Sources, model: str, now: float) -> dict[str, Any]:
    """The live split, the latest rollout with its checks, and the deployment history."""
    src.known_model(model)
    policy, dep_id = src.policy(model)
    rows = src.store.rollouts.list_rollouts(model, limit=10)
    rollouts = [rollout_dict(from_row(r)[0]) for r in rows]
    checks = src.store.rollouts.list_rollout_checks(rows[0]["id"], limit=100) if rows else []
    history = [{"id": d.id, "created_at": d.created_at, "policy": d.policy, "actor": d.actor,
                "reason": d.reason} for d in src.store.deployments.deployment_history(model, 50)]
    return {"model": model, "now": now, "deployment_id": dep_id,
            "policy": policy.to_dict() if policy else None,
            "versions": [v.version for v in src.store.models.list_versions(model)],
            "rollout": rollouts[0] if rollouts else None, "rollouts": rollouts,
            "checks": checks, "history": history, "automation": src.automation(model),
            "pipeline": src.pipeline(model)}


def alerts(src: Sources, model: str, limit: int = 50) -> dict[str, Any]:
    """Rule states (firing first) and recent alert history."""
    src.known_model(model)
    service = Alerts(src.store, alerting=src.project.alerting)
    order = {"firing": 0, "pending": 1, "ok": 2, "resolved": 3, "disabled": 4}
    rules = []
    for r in service.status(model):
        state = r.state.state if r.rule.enabled else "disabled"
        rules.append({"name": r.rule.name, "state": state, "severity": r.rule.severity,
                      "condition": r.rule.condition.text, "metric": r.rule.condition.metric,
                      "value": r.state.value, "threshold": r.rule.condition.threshold,
                      "since": r.state.since, "scope": r.rule.scope()})
    rules.sort(key=lambda a: (order.get(str(a["state"]), 9), str(a["name"])))
    return {"model": model, "rules": rules,
            "counts": dict(Counter(str(a["state"]) for a in rules)),
            "history": service.history(model, limit=limit)}


def _health(values: dict[str, float | None], slo: dict[str, Any]) -> str:
    """From what the server controls: server errors (5xx) and latency against the SLO.
    Refused requests (4xx: a client's bad input) say nothing about the model's health.

    >>> _health({"requests": 2, "server_error_rate": 0.0, "client_error_rate": 1.0}, {})
    'ok'
    >>> _health({"requests": 40, "server_error_rate": 0.1}, {"max_error_rate": 0.05})
    'critical'
    """
    if not values.get("requests"):
        return "no_data"
    err, p99 = values.get("server_error_rate"), values.get("latency_p99")
    max_err = slo.get("max_error_rate")
    max_p99 = slo.get("latency_p99_ms")
    if (max_err is not None and err is not None and err > max_err) or (
            max_p99 is not None and p99 is not None and p99 > max_p99):
        return "critical"
    if err is not None and err > 0.05:
        return "warning"
    return "ok"


def _recent(buckets: list[WindowAggregate | None], grid: Grid, now: float
            ) -> dict[str, float | None]:
    """The card's values over the last ``HEALTH_WINDOW_S`` (or since traffic began)."""
    recent = WindowAggregate()
    first = now
    for t, b in zip(grid.times(), buckets, strict=True):
        if b is not None and t >= now - HEALTH_WINDOW_S:
            recent.merge(b)
            first = min(first, t)
    span = max(now - max(first, now - HEALTH_WINDOW_S), 1.0)
    return {k: v[0] for k, v in panels.series(
        [recent], list(CARD_VALUES), Grid(now - span, span, 1), now=now).items()}


def _answers(raw: dict[Group, list[WindowAggregate | None]], grid: Grid
             ) -> list[WindowAggregate | None]:
    return panels.merge_buckets([b for g, b in raw.items() if g[1] == "answer"], grid)


def overview(src: Sources, now: float, range_name: str | None = None) -> dict[str, Any]:
    """One row per model: health, split (or a pipeline's stages), rollout, automation,
    alarms, drift, traffic (its own, and its traffic as a stage of pipelines) and a
    sparkline over ``range_name``."""
    range_s, step, _ = parse_range(range_name)
    models = []
    service = Alerts(src.store, alerting=src.project.alerting)
    uses = src.stage_uses()
    for name, description in src.models().items():
        grid = Grid.for_range(range_s, now=now, step=step)
        recent_grid = Grid.for_range(HEALTH_WINDOW_S, now=now, step=60.0)
        policy, dep_id = src.policy(name)
        ref_version, reference = src.reference(name, policy.primary if policy else None)
        raw = src.buckets(name, grid, now + 1.0, {"inputs"})
        spark = {"own": panels.series(_answers(raw, grid), ["throughput"], grid,
                                      now=now)["throughput"]}
        values = _recent(_answers(src.buckets(name, recent_grid, now + 1.0, set()),
                                  recent_grid), recent_grid, now)
        stages: list[dict[str, Any]] = []
        for pipe, stage, tag in uses.get(name, []):
            stage_raw = src.buckets(name, grid, now + 1.0, set(), stage=tag)
            spark[f"as {pipe}/{stage}"] = panels.series(
                _answers(stage_raw, grid), ["throughput"], grid, now=now)["throughput"]
            stage_values = _recent(_answers(
                src.buckets(name, recent_grid, now + 1.0, set(), stage=tag), recent_grid),
                recent_grid, now)
            stages.append({"pipeline": pipe, "stage": stage, "values": stage_values,
                           "health": _health(stage_values, src.slo(name))})
        slo = src.slo(name)
        health = _health(values, slo)
        if health == "no_data":  # served only as a stage: its health is the stages'
            order = ["critical", "warning", "ok", "no_data"]
            health = min((str(s["health"]) for s in stages), key=order.index,
                         default="no_data")
        primary = raw.get((ref_version or "", "answer"), [None] * grid.n)
        heat = grid.coarser(max(300.0, step))
        cells = panels.drift_cells(primary, reference, n=heat.n,
                                   into=[heat.index(t) for t in grid.times()])
        drift = panels.drift_status(cells)
        drift.pop("latest")
        states = [r.state.state for r in service.status(name) if r.rule.enabled]
        active = src.store.rollouts.list_rollouts(name, active_only=True, limit=1)
        rollout = rollout_dict(from_row(active[0])[0]) if active else None
        models.append({
            "name": name, "description": description,
            "health": health, "values": values, "slo": slo,
            "deployment_id": dep_id, "policy": policy.to_dict() if policy else None,
            "pipeline": src.pipeline(name), "stages": stages,
            "rollout": None if rollout is None else {
                k: rollout[k] for k in ("candidate", "baseline", "state", "step", "strategy")},
            "automation": src.automation(name),
            "alerts": {"firing": states.count("firing"), "pending": states.count("pending"),
                       "rules": len(states)},
            "drift": drift,
            "spark": {"t": grid.times(), "throughput": spark["own"],
                      "series": {k: v for k, v in spark.items()
                                 if k == "own" or any(x is not None for x in v)}},
        })
    return {"now": now, "range": range_name or "1h", "models": models}
