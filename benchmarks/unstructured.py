"""Unstructured inputs benchmark (issue 20): decoding + input metrics, serving overhead of
a base64 image request, and the calibration/power table of the embedding drift tests.

    python benchmarks/unstructured.py            # the full run (several minutes)
    python benchmarks/unstructured.py --quick    # a smoke run: tiny sizes, no verdict

1. **Decode + metrics, one core**: a 224x224 JPEG through ``decode_image`` and its input
   metrics (target <= 2 ms), a 5 s 16 kHz WAV clip through ``decode_audio`` and its metrics
   (target <= 5 ms). The baseline, measured in the same run, is the bare decoder (Pillow
   ``open`` + ``convert`` + ``asarray``; soundfile ``read``): the ratio is what checks,
   limits and metrics add.
2. **Serving overhead**: one base64 JPEG per request through rampup's app (validation,
   routing, model, logging, monitoring) against a bare Starlette endpoint that decodes the
   same body and predicts with the same model, both in-process over httpx's ASGI
   transport, sequential requests; shown as the mean and p99 latency and their ratio (no
   target: it tells what the platform costs per image).
3. **Embedding drift**: false-alarm rate (no shift) and power (every dimension shifted by
   ``--shift`` standard deviations) of the random-feature MMD permutation test and of the
   domain classifier at window sizes 100, 300, 1 000 and 5 000 (reference of the same
   size, 32 dimensions, ``--reps`` repetitions). Target: at most 5 % false alarms at every
   size for both (PASS when the observed rate is not significantly above 5 %, one-sided
   exact binomial test at 5 %); power is reported.

Exit status 1 when a target fails (not in ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
console = Console()


def _one_core() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(1)


def _best_ms(fn: Callable[[], Any], reps: int, rounds: int = 5) -> float:
    """The best of ``rounds`` mean times of ``reps`` calls, in ms (noise only adds)."""
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        best = min(best, (time.perf_counter() - t0) / reps * 1000)
    return best


def _jpeg(size: int = 224) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    base = 110 + 60 * np.sin(xx / 9) + 40 * np.cos(yy / 7)
    px = np.clip(np.stack([base + rng.normal(0, 15, (size, size)) + 15 * c
                           for c in range(3)], axis=2), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _wav(seconds: float = 5.0, rate: int = 16000) -> bytes:
    import soundfile as sf

    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    buf = io.BytesIO()
    sf.write(buf, x.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def decode_rows(quick: bool) -> list[dict[str, Any]]:
    import soundfile as sf
    from PIL import Image

    from rampup.inputs.media import decode_audio, decode_image

    reps = 20 if quick else 300
    jpeg, wav = _jpeg(), _wav()

    def pil() -> Any:
        return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))

    def ours_image() -> Any:
        return decode_image(jpeg).metrics()

    def sf_read() -> Any:
        return sf.read(io.BytesIO(wav), dtype="float32")

    def ours_audio() -> Any:
        return decode_audio(wav).metrics()

    rows = []
    for what, base, ours, target in (("224x224 JPEG", pil, ours_image, 2.0),
                                     ("5 s 16 kHz WAV", sf_read, ours_audio, 5.0)):
        b, o = _best_ms(base, reps), _best_ms(ours, reps)
        rows.append({"input": what, "baseline_ms": b, "ours_ms": o, "ratio": o / b,
                     "target_ms": target, "pass": o <= target})
    return rows


async def _serve_rows(quick: bool) -> list[dict[str, Any]]:
    import httpx
    from PIL import Image
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from rampup.config import Settings
    from rampup.project import ProjectFile
    from rampup.registry.registry import Registry
    from rampup.serving.app import create_app
    from rampup.store import Database

    sys.path.insert(0, str(HERE))
    from _media_model import brightness  # type: ignore[import-not-found]

    n = 30 if quick else 500
    body = {"photo": base64.b64encode(_jpeg()).decode()}

    async def bare(request: Request) -> JSONResponse:
        doc = await request.json()
        img = np.asarray(Image.open(io.BytesIO(base64.b64decode(doc["photo"]))).convert("RGB"))

        class _Img:
            pixels = img
        return JSONResponse({"prediction": brightness.predict({"photo": [_Img]})[0]})

    async def run(app: Any, url: str) -> list[float]:
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://bench") as c:
            for _ in range(10):
                (await c.post(url, json=body)).raise_for_status()
            for _ in range(n):
                t0 = time.perf_counter()
                r = await c.post(url, json=body)
                out.append((time.perf_counter() - t0) * 1000)
                r.raise_for_status()
        return out

    bare_ms = await run(Starlette(routes=[Route("/predict", bare, methods=["POST"])]),
                        "/predict")
    with tempfile.TemporaryDirectory() as d:
        settings = Settings(project_dir=Path(d), controller=False)  # type: ignore[call-arg]
        store = Database.open(settings.resolved_database_url)
        Registry.from_settings(settings, store).register(
            "vision", f"{HERE / '_media_model.py'}:brightness")
        app = create_app(settings, ProjectFile(), store=store)
        async with app.router.lifespan_context(app):
            ours_ms = await run(app, "/v1/models/vision/predict")
    rows = []
    for name, xs in (("bare Starlette endpoint", bare_ms), ("rampup predict", ours_ms)):
        rows.append({"endpoint": name, "mean_ms": statistics.fmean(xs),
                     "p99_ms": float(np.quantile(xs, 0.99))})
    rows[1]["ratio"] = rows[1]["mean_ms"] / rows[0]["mean_ms"]
    return rows


def _binom_ok(k: int, n: int, rate: float = 0.05) -> bool:
    from scipy.stats import binomtest

    return k / n <= rate or binomtest(k, n, rate, alternative="greater").pvalue >= 0.05


def drift_rows(quick: bool, reps: int, shift: float) -> list[dict[str, Any]]:
    from rich.progress import Progress

    from rampup.drift.embeddings import embedding_domain_test, mmd_test

    sizes = (100, 300) if quick else (100, 300, 1000, 5000)
    reps = 5 if quick else reps
    dims = 32
    rows = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("embedding drift calibration", total=len(sizes) * reps * 2)
        for n in sizes:
            counts = {"mmd_fa": 0, "mmd_power": 0, "clf_fa": 0, "clf_power": 0}
            for r in range(reps):
                rng = np.random.default_rng(1000 * n + r)
                ref = rng.normal(size=(n, dims))
                for label, cur in (("fa", rng.normal(size=(n, dims))),
                                   ("power", rng.normal(shift, 1.0, size=(n, dims)))):
                    counts[f"mmd_{label}"] += mmd_test(ref, cur, seed=r).drifted
                    counts[f"clf_{label}"] += embedding_domain_test(ref, cur, seed=r).drifted
                    bar.advance(task)
            rows.append({"n": n, "reps": reps,
                         **{k: v / reps for k, v in counts.items()},
                         "pass": _binom_ok(counts["mmd_fa"], reps)
                         and _binom_ok(counts["clf_fa"], reps)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, no verdict")
    p.add_argument("--reps", type=int, default=100, help="drift repetitions per size")
    p.add_argument("--shift", type=float, default=0.1, help="mean shift (sd) for power")
    args = p.parse_args(argv)
    _one_core()
    ok = True
    console.print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} "
                  f"{os.getloadavg()[2]:.2f} (numbers from a loaded machine are noisier)")

    t = Table(title="1. decode + input metrics, one core (best of 5 means)")
    for c in ("input", "bare decoder ms", "rampup ms", "ratio", "target ms", "verdict"):
        t.add_column(c)
    for r in decode_rows(args.quick):
        ok &= r["pass"]
        t.add_row(r["input"], f"{r['baseline_ms']:.3f}", f"{r['ours_ms']:.3f}",
                  f"{r['ratio']:.2f}x", f"{r['target_ms']:g}",
                  "PASS" if r["pass"] else "FAIL")
    console.print(t)

    t = Table(title="2. serving a base64 224x224 JPEG, sequential requests in-process")
    for c in ("endpoint", "mean ms", "p99 ms", "ratio to bare"):
        t.add_column(c)
    for r in asyncio.run(_serve_rows(args.quick)):
        t.add_row(r["endpoint"], f"{r['mean_ms']:.2f}", f"{r['p99_ms']:.2f}",
                  f"{r['ratio']:.2f}x" if "ratio" in r else "1.00x")
    console.print(t)

    t = Table(title=f"3. embedding drift, 32 dims: false alarms (no shift) and power (shift "
                    f"{args.shift:g} sd), alpha 0.05")
    for c in ("n", "reps", "MMD false alarms", "MMD power", "classifier false alarms",
              "classifier power", "verdict"):
        t.add_column(c)
    for r in drift_rows(args.quick, args.reps, args.shift):
        ok &= r["pass"]
        t.add_row(str(r["n"]), str(r["reps"]), f"{r['mmd_fa']:.1%}", f"{r['mmd_power']:.1%}",
                  f"{r['clf_fa']:.1%}", f"{r['clf_power']:.1%}",
                  "PASS" if r["pass"] else "FAIL")
    console.print(t)
    if args.quick:
        console.print("quick run: no verdict")
        return 0
    console.print("all targets met" if ok else "[red]a target failed[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
