"""Run a ``module:function`` training entry point (in the subprocess of a retraining run).

``python -m rampup.retrain.worker MODULE:FUNCTION --dataset D --output O --params P
[--holdout H --metrics M --label L]``: reads the dataset (Parquet) into a DataFrame,
calls ``function(dataset, params)`` and saves the returned model with joblib to the
output path. When a holdout and label are given and the model has ``predict``, the
holdout accuracy (classes) or mean absolute error (numbers) goes to the metrics file,
with the training time and row count.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any


def load_entry_point(path: str) -> Any:
    module, _, name = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _holdout_metrics(model: Any, holdout: Path, label: str) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(holdout)
    if frame.empty or not hasattr(model, "predict"):
        return {}
    y = frame[label].to_numpy()
    pred = np.asarray(model.predict(frame.drop(columns=[label])))
    if pd.api.types.is_float_dtype(frame[label].dtype):
        return {"holdout_mae": float(np.mean(np.abs(pred - y)))}
    return {"holdout_accuracy": float(np.mean(pred == y))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rampup.retrain.worker")
    parser.add_argument("entry_point")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--params", default="{}")
    parser.add_argument("--holdout")
    parser.add_argument("--metrics")
    parser.add_argument("--label")
    args = parser.parse_args(argv)

    import joblib
    import pandas as pd

    fn = load_entry_point(args.entry_point)
    params = json.loads(Path(args.params).read_text() if args.params.endswith(".json")
                        else args.params)
    data = pd.read_parquet(args.dataset)
    print(f"training {args.entry_point} on {len(data)} rows with params {params}", flush=True)
    started = time.perf_counter()
    model = fn(data, params)
    seconds = time.perf_counter() - started
    if model is None:
        print("the entry point returned None; it must return the fitted model",
              file=sys.stderr)
        return 3
    joblib.dump(model, args.output)
    print(f"trained in {seconds:.2f} s; saved to {args.output}", flush=True)
    if args.metrics:
        metrics: dict[str, float] = {"fit_seconds": round(seconds, 3),
                                     "train_rows": float(len(data))}
        if args.holdout and args.label:
            metrics.update(_holdout_metrics(model, Path(args.holdout), args.label))
        Path(args.metrics).write_text(json.dumps(metrics))
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a subprocess
    sys.exit(main())
