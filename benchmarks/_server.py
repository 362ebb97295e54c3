"""One benchmark server, run as its own process: ``python benchmarks/_server.py KIND ...``.

KIND is ``numpy`` (the fastest correct endpoint: Starlette, a NumPy row, the model
called inline), ``bare`` (the same with a one-row pandas DataFrame) or ``rampup`` (the
real app from ``create_app``). The process pins itself to one CPU before anything
starts a thread, so the log writer and any executor threads share that CPU too.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

MODEL_NAME = "loan-default"


def bare_app(model_path: Path) -> Any:
    """The cheapest correct endpoint a user would write for this model."""
    import joblib
    import orjson
    import pandas as pd
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    model = joblib.load(model_path)
    columns = list(model.feature_names_in_)  # fitted on a DataFrame: predict on one too
    classes = [c.item() for c in model.classes_]
    keys = [str(c) for c in classes]

    async def predict(request: Request) -> Response:
        record = orjson.loads(await request.body())
        x = pd.DataFrame([record], columns=columns)
        proba = model.predict_proba(x)[0]
        best = int(proba.argmax())
        return Response(orjson.dumps({
            "prediction": classes[best],
            "probabilities": dict(zip(keys, proba.tolist(), strict=True)),
        }), media_type="application/json")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]),
                             Route("/readyz", health)])


def numpy_app(model_path: Path, columns: list[str]) -> Any:
    """The fastest correct endpoint a user would write: orjson, a NumPy row in feature
    order, ``predict_proba`` inline, orjson out (a model fitted on a NumPy array)."""
    import joblib
    import numpy as np
    import orjson
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    model = joblib.load(model_path)
    classes = [c.item() for c in model.classes_]
    keys = [str(c) for c in classes]

    async def predict(request: Request) -> Response:
        record = orjson.loads(await request.body())
        x = np.array([[record[c] for c in columns]], dtype=np.float64)
        proba = model.predict_proba(x)[0]
        best = int(proba.argmax())
        return Response(orjson.dumps({
            "prediction": classes[best],
            "probabilities": dict(zip(keys, proba.tolist(), strict=True)),
        }), media_type="application/json")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]),
                             Route("/readyz", health)])


def pin_background(cpu: int, main_tid: int) -> None:
    """Move every thread but the event loop's and the model pool's to ``cpu`` (the log
    writer, monitor, automation and other workers), as they start."""
    import threading
    import time

    def watch() -> None:
        os.sched_setaffinity(0, {cpu})  # this watcher too
        pinned: set[int] = set()
        for _ in range(600):  # the first minute: every worker has started by then
            for th in threading.enumerate():
                tid = th.native_id
                if tid is None or tid == main_tid or tid in pinned:
                    continue
                if th.name.startswith(("rampup-model", "asyncio_")):
                    continue
                try:
                    os.sched_setaffinity(tid, {cpu})
                    pinned.add(tid)
                except OSError:
                    pass
            time.sleep(0.1)

    threading.Thread(target=watch, name="pin-background", daemon=True).start()


def rampup_app(project_dir: Path, batching: bool, compiled: bool = True) -> Any:
    """rampup as ``rampup serve`` builds it, with this model's batching (and compiled
    scoring) switched."""
    from rampup.config import Settings
    from rampup.project import Batching, ModelSpec, ProjectFile
    from rampup.serving.app import create_app

    settings = Settings(project_dir=project_dir)
    project = ProjectFile(models={MODEL_NAME: ModelSpec(batching=Batching(enabled=batching),
                                                        compiled=compiled)})
    return create_app(settings, project)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("kind", choices=["numpy", "bare", "rampup"])
    p.add_argument("--model", type=Path, help="model.joblib (bare) / model-numpy.joblib")
    p.add_argument("--columns", default="", help="numpy: comma-separated feature order")
    p.add_argument("--background-cpu", type=int, default=None,
                   help="rampup: run the background workers on this CPU")
    p.add_argument("--project-dir", type=Path, help="project folder with rampup.db (rampup)")
    p.add_argument("--batching", action="store_true", help="rampup: micro-batching on")
    p.add_argument("--no-compile", action="store_true",
                   help="rampup: compiled: false (scikit-learn's own predict_proba)")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cpu", type=int, default=None, help="pin the process to this CPU")
    p.add_argument("--loop", default="auto")
    p.add_argument("--http", default="auto")
    args = p.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    import uvicorn

    if args.kind == "numpy":
        app = numpy_app(args.model, args.columns.split(","))
    elif args.kind == "bare":
        app = bare_app(args.model)
    else:
        if args.background_cpu is not None:
            import threading

            pin_background(args.background_cpu, threading.get_native_id())
        app = rampup_app(args.project_dir, args.batching, compiled=not args.no_compile)
    uvicorn.run(app, host="127.0.0.1", port=args.port, workers=1, loop=args.loop,
                http=args.http, access_log=False, log_level="warning",
                timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
