"""Dashboard speed: a model page over 24 h of 1-minute windows for 20 features.

One command::

    .venv/bin/python benchmarks/dashboard.py            # sqlite, 1440 windows, 20 features
    .venv/bin/python benchmarks/dashboard.py --postgres postgresql://postgres@127.0.0.1/test

Seeds a store with ``--minutes`` one-minute windows of model ``bench`` (version v1 answering,
v2 as a 5 % canary over the last quarter, 16 numeric and 4 categorical features, drift
creeping into half of them), then times through the real ASGI app (httpx.ASGITransport):

* each JSON panel the model page reads (metrics with the heat map, deployment, alerts) at
  ``range=24h`` and the page HTML, median of ``--repeat`` calls; their sum is the page's
  data time, judged against the 1 s target;
* the overview;
* a baseline in the same run: the naive path, one ``StoreMetricSource.series`` query per
  chart (per feature and statistic) as a page calling ``/v1/models/{name}/metrics`` once
  per chart would;
* with Chromium + Selenium installed (``--browser auto``), a full headless render: the
  time from navigation until every chart of the page has drawn its data.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from rampup.config import Settings
from rampup.monitor.aggregates import WindowAggregate
from rampup.monitor.features import VersionInfo
from rampup.monitor.ingest import ingest
from rampup.monitor.query import StoreMetricSource
from rampup.predlog.writer import PredictionRecord
from rampup.registry.profile import compute_profile, infer_schema
from rampup.registry.schema import InputSchema, OutputSpec
from rampup.serving.app import create_app
from rampup.store import Database, VersionRecord

MODEL = "bench"
TARGET_S = 1.0
CITIES = ["paris", "rome", "oslo", "lima", "kyiv"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=int, default=1440, help="1-minute windows (24 h)")
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--records", type=int, default=120, help="records per window template")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite")
    p.add_argument("--browser", choices=["auto", "off"], default="auto")
    p.add_argument("--json", action="store_true", help="print the results as JSON too")
    return p.parse_args(argv)


def frame(n: int, features: int, rng: np.random.Generator, drift: float = 0.0) -> pd.DataFrame:
    cols: dict[str, Any] = {}
    n_cat = max(1, features // 5)
    for i in range(features - n_cat):
        shift = drift if i % 2 == 0 else 0.0
        x = rng.normal(10 * i + shift * (i + 1), 1 + i / 10, n)
        x[rng.random(n) < 0.02] = np.nan
        cols[f"num_{i:02d}"] = x
    for i in range(n_cat):
        p = np.array([0.4, 0.25, 0.15, 0.12, 0.08])
        if drift and i % 2 == 0:
            p = np.roll(p, 1)
        cols[f"cat_{i}"] = rng.choice(CITIES, n, p=p)
    return pd.DataFrame(cols)


def seed(store: Database, args: argparse.Namespace, now: float) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    ref = frame(5000, args.features, rng)
    schema = infer_schema(ref)
    profile = compute_profile(ref, schema)
    output = {"kind": "class", "classes": [0, 1], "has_probabilities": True}
    store.models.ensure_model(MODEL)
    for v in ("v1", "v2"):
        store.models.add_version(VersionRecord(
            model=MODEL, version=v, seq=store.models.next_version_seq(MODEL), flavor="python",
            artifact_uri="-", artifact_hash=f"sha256:{v}", input_schema=schema.to_dict(),
            output=output, profile=profile, metadata={}, created_at=now, created_by="bench"))
    store.deployments.append_deployment(MODEL, {"routes": {"v1": 100.0}}, "bench", "first")
    store.deployments.append_deployment(MODEL, {"routes": {"v1": 95.0, "v2": 5.0}}, "bench",
                                        "canary")
    info = VersionInfo.from_parts(schema.to_dict(), output, profile)
    templates: list[dict[str, Any]] = []
    for k in range(12):  # windows with more and more drift, reused round the day
        df = frame(args.records, args.features, rng, drift=k / 4)
        rows = [{c: (None if isinstance(v, float) and math.isnan(v) else v)
                 for c, v in r.items()} for r in df.to_dict(orient="records")]
        agg = WindowAggregate()
        agg.requests = len(rows)
        agg.latency.update_many(rng.gamma(2.0, 4.0, len(rows)).tolist())
        agg.gauge("cpu_percent").sample(float(rng.uniform(5, 40)))
        recs = []
        for i, r in enumerate(rows):
            p1 = float(rng.random())
            recs.append(PredictionRecord(
                f"{k}-{i}", f"{k}-{i}", now, MODEL, "v1", "answer", r,
                {"prediction": int(p1 > 0.5), "confidence": max(p1, 1 - p1)},
                max(p1, 1 - p1), 5.0))
        ingest(agg, recs, info)
        templates.append(agg.to_dict())
    start = math.floor(now / 60) * 60 - 60 * (args.minutes - 1)
    batch: list[dict[str, Any]] = []
    written = 0
    t0 = time.perf_counter()
    for m in range(args.minutes):
        ws = start + 60 * m
        data = templates[min(11, m * 12 // args.minutes)]
        keys = [("v1", "answer")] + ([("v2", "answer")] if m >= args.minutes * 3 // 4 else [])
        for version, role in keys:
            batch.append({"model": MODEL, "version": version, "role": role, "stage": "",
                          "window_start": ws, "window_s": 60.0, "replica": "bench",
                          "updated_at": now, "data": data})
        if len(batch) >= 500:
            written += store.windows.upsert_metric_windows(batch)
            batch = []
    written += store.windows.upsert_metric_windows(batch)
    return {"rows": written, "seed_s": time.perf_counter() - t0,
            "row_bytes": len(json.dumps(templates[0])),
            "features": [f.name for f in schema.features]}


class Idle:
    """A predictor that is never asked (the benchmark reads; it does not predict)."""

    flavor = "python"

    def __init__(self, record: VersionRecord) -> None:
        self.input_schema = InputSchema.from_dict(record.input_schema)
        self.output = OutputSpec.from_dict(record.output)

    def predict(self, batch: Any) -> Any:
        raise NotImplementedError


def naive(store: Database, features: list[str], now: float, sample: int = 4
          ) -> tuple[float, int]:
    """One query per chart, as a page calling the metric API chart by chart would: the
    time of ``sample`` such queries (one of each kind), scaled to the page's count."""
    src = StoreMetricSource(store)
    metrics = ["throughput", "error_rate", "latency_p50", "latency_p95", "latency_p99",
               "in_flight", "cpu_percent", "memory_rss_mb", "invalid_input_rate"]
    metrics += [f"feature[{f}].missing_fraction" for f in features]
    metrics += [f"feature[{f}].{'mean' if f.startswith('num') else 'unseen_fraction'}"
                for f in features]
    picked = [metrics[0], metrics[5], metrics[9], metrics[-1]][:sample]
    t0 = time.perf_counter()
    for metric in picked:
        src.series(MODEL, metric, since=now - 86_400, until=now, step_s=600.0)
    return (time.perf_counter() - t0) / len(picked) * len(metrics), len(metrics)


def browser_render(app: Any) -> dict[str, Any] | None:
    """Navigation to every chart drawn, headless Chromium; None when unavailable."""
    import shutil

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not chromium or not driver_path:
        return None
    from rampup_demo.server import BackgroundServer

    server = BackgroundServer(app).start()
    opts = Options()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    done = ("return document.body.dataset.points !== undefined && "
            "[...document.querySelectorAll('#software-charts .chart, #input-charts .chart')]"
            ".every(c => c.querySelector('canvas') || c.querySelector('.chart-empty')) && "
            "document.querySelectorAll('#heatmap button.cell').length > 0")
    try:
        url = f"{server.url}/dashboard/models/{MODEL}"
        driver.get(url)
        driver.execute_script("sessionStorage.setItem('rampup.range', '24h')")
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            driver.get(url)
            while not driver.execute_script(done):
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("the page did not finish drawing in 30 s")
                time.sleep(0.01)
            runs.append(time.perf_counter() - t0)
        charts = driver.execute_script("return document.querySelectorAll('canvas').length")
        return {"render_s": statistics.median(runs), "canvases": charts}
    finally:
        driver.quit()
        server.stop()


async def measure(app: Any, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                 timeout=120) as c:
        paths = {"metrics (charts + heat map)": f"/dashboard/api/models/{MODEL}/metrics"
                 "?range=24h",
                 "deployment": f"/dashboard/api/models/{MODEL}/deployment",
                 "alerts": f"/dashboard/api/models/{MODEL}/alerts",
                 "page HTML": f"/dashboard/models/{MODEL}",
                 "overview": "/dashboard/api/overview"}
        for name, path in paths.items():
            times = []
            for _ in range(repeat + 1):
                t0 = time.perf_counter()
                r = await c.get(path)
                times.append(time.perf_counter() - t0)
                r.raise_for_status()
            if name.startswith("metrics"):
                out["metrics, cold (first call)"] = times[0]
            out[name] = statistics.median(times[1:])
    return out


def main(argv: list[str] | None = None) -> int:
    import asyncio

    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = Database.open(url)
        now = time.time()
        seeded = seed(store, args, now)
        print(f"seeded {seeded['rows']} windows ({args.minutes} min, {args.features} "
              f"features, {seeded['row_bytes'] / 1024:.0f} KiB each) in "
              f"{seeded['seed_s']:.1f} s into {url.split('://')[0]}")
        settings = Settings(project_dir=Path(tmp), monitor=False, controller=False)
        app = create_app(settings, store=store, load=Idle)

        async def run() -> dict[str, float]:
            async with app.router.lifespan_context(app):
                return await measure(app, args.repeat)

        panels = asyncio.run(run())
        page = sum(v for k, v in panels.items() if k != "overview" and "cold" not in k)
        base_s, queries = naive(store, seeded["features"], time.time())
        render = browser_render(app) if args.browser == "auto" else None
        store.close()
    print(f"\n{'panel':<30}{'median s':>10}")
    for name, s in panels.items():
        print(f"{name:<30}{s:>10.3f}")
    print(f"{'model page data (sum)':<30}{page:>10.3f}   "
          f"{page / TARGET_S:.2f} of the {TARGET_S:.0f} s target "
          f"({'PASS' if page < TARGET_S else 'FAIL'})")
    print(f"{'baseline: naive per chart':<30}{base_s:>10.3f}   {queries} queries "
          f"(4 timed, scaled); {base_s / panels['metrics, cold (first call)']:.1f}x the "
          "dashboard's cold call")
    if render is not None:
        print(f"{'headless full render':<30}{render['render_s']:>10.3f}   "
              f"{render['canvases']} charts drawn; {render['render_s'] / TARGET_S:.2f} of "
              f"the target ({'PASS' if render['render_s'] < TARGET_S else 'FAIL'})")
    else:
        print("headless full render: skipped (needs chromium, chromium-driver, selenium)")
    if args.json:
        print(json.dumps({"panels": panels, "page_s": page, "baseline_s": base_s,
                          "render": render, "seed": {k: v for k, v in seeded.items()
                                                     if k != "features"}}))
    return 0 if page < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
