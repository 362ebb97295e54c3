"""What a load test sends: request bodies from a model's schema and reference profile,
from a data file, or replayed from the prediction log.

Synthetic rows follow the reference profile: numbers drawn through its 101 quantiles
(the training data's marginal distribution), categories by their frequencies, missing
values as often as in training (when the feature is nullable), text with the training
lengths. Without a profile, values are plain draws of the declared type.

Replayed rows never carry a protected field's logged value: fields the project marks
``drop``, ``hash`` or ``mask`` (its ``privacy:`` settings) are replaced by a synthetic
value of the feature (or left out when the schema does not know them), so a load test
neither leaks them nor sends a hash where the model expects the real thing.

>>> schema = {"features": [{"name": "age", "dtype": "int"},
...                        {"name": "city", "dtype": "str", "categories": ["a", "b"]}]}
>>> rows = synthetic(schema, None, 3, seed=1)
>>> [sorted(r) for r in rows] == [["age", "city"]] * 3
True
>>> scrub([{"age": 41, "ssn": "123", "city": "a"}], {"ssn": "drop", "age": "hash"},
...       lambda name: 7 if name == "age" else None)
[{'age': 7, 'city': 'a'}]
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from rampup.errors import NotFoundError, ValidationError
from rampup.security.privacy import protected_fields as protected_fields  # re-exported

if TYPE_CHECKING:
    from rampup.store import Database, VersionRecord

PROTECTED = ("drop", "hash", "mask")
_ALPHABET = np.array(list(string.ascii_lowercase + " "))


def _feature_values(feature: Mapping[str, Any], prof: Mapping[str, Any] | None, n: int,
                    rng: np.random.Generator) -> list[Any]:
    dtype = feature.get("dtype", "float")
    cats = feature.get("categories")
    kind = (prof or {}).get("kind")
    values: list[Any]
    if kind == "categorical" and prof and prof.get("frequencies"):
        freqs = {k: v for k, v in prof["frequencies"].items() if k != "__other__"}
        keys = list(freqs) or list(prof["frequencies"])
        p = np.array([freqs.get(k, 1.0) for k in keys], dtype=np.float64)
        picked = rng.choice(len(keys), size=n, p=p / p.sum())
        values = [_typed(keys[i], dtype) for i in picked]
    elif kind == "numeric" and prof and prof.get("quantiles"):
        q = np.asarray(prof["quantiles"], dtype=np.float64)
        x = np.interp(rng.random(n), np.linspace(0.0, 1.0, len(q)), q)
        values = np.round(x).astype(np.int64).tolist() if dtype == "int" else x.tolist()
    elif kind == "text" and prof and (prof.get("length") or {}).get("quantiles"):
        q = np.asarray(prof["length"]["quantiles"], dtype=np.float64)
        lengths = np.round(np.interp(rng.random(n), np.linspace(0, 1, len(q)), q))
        values = [_text(int(k), rng) for k in lengths]
    elif cats:
        values = [str(c) for c in rng.choice(np.array(cats, dtype=object), size=n)]
    elif dtype == "bool":
        values = (rng.random(n) < 0.5).tolist()
    elif dtype == "int":
        values = rng.integers(0, 100, size=n).tolist()
    elif dtype == "str":
        lo, hi = feature.get("min_length") or 1, feature.get("max_length") or 24
        values = [_text(int(k), rng) for k in rng.integers(lo, max(lo, hi) + 1, size=n)]
    else:
        values = rng.random(n).tolist()
    if dtype == "str":
        lo, hi = feature.get("min_length"), feature.get("max_length")
        values = [_fit(v, lo, hi) for v in values]
    missing = float((prof or {}).get("missing_fraction") or 0.0)
    if feature.get("nullable") and missing > 0:
        gone = rng.random(n) < missing
        values = [None if g else v for v, g in zip(values, gone.tolist(), strict=True)]
    return values


def _typed(key: str, dtype: str) -> Any:
    """A profile's category key (always text) as the feature's type."""
    if dtype == "bool":
        return key == "True"
    if dtype in ("int", "float"):
        try:
            number = float(key)
        except ValueError:
            return key
        return int(number) if dtype == "int" and number.is_integer() else number
    return key


def _text(length: int, rng: np.random.Generator) -> str:
    return "".join(rng.choice(_ALPHABET, size=max(1, length)).tolist()).strip() or "x"


def _fit(value: str, lo: int | None, hi: int | None) -> str:
    if hi is not None:
        value = value[:hi]
    if lo is not None and len(value) < lo:
        value = value + "x" * (lo - len(value))
    return value


def synthetic(schema: Mapping[str, Any], profile: Mapping[str, Any] | None, n: int, *,
              seed: int = 0) -> list[dict[str, Any]]:
    """``n`` rows drawn from the reference profile (or the schema alone)."""
    features = list(schema.get("features") or [])
    if not features:
        raise ValidationError("the model takes free-form input, so there is nothing to "
                              "generate requests from",
                              fix="give --data FILE (CSV, Parquet or JSONL rows) or "
                                  "--replay-log SINCE")
    rng = np.random.default_rng(seed)
    profiles = (profile or {}).get("features") or {}
    columns = {f["name"]: _feature_values(f, profiles.get(f["name"]), n, rng) for f in features}
    return [{name: col[i] for name, col in columns.items()} for i in range(n)]


def filler(schema: Mapping[str, Any], profile: Mapping[str, Any] | None, *, seed: int = 0
           ) -> Callable[[str], Any]:
    """A function giving a synthetic value of a feature (None when the schema lacks it)."""
    rng = np.random.default_rng(seed)
    features = {f["name"]: f for f in schema.get("features") or []}
    profiles = (profile or {}).get("features") or {}

    def fill(name: str) -> Any:
        feature = features.get(name)
        return None if feature is None else _feature_values(
            feature, profiles.get(name), 1, rng)[0]

    return fill


def scrub(rows: Iterable[dict[str, Any]], protected: Mapping[str, str],
          fill: Callable[[str], Any]) -> list[dict[str, Any]]:
    """Replace every protected field's value by ``fill(name)``; drop it when that is None."""
    out = []
    for row in rows:
        clean = dict(row)
        for name in protected:
            if name in clean:
                value = fill(name)
                if value is None:
                    del clean[name]
                else:
                    clean[name] = value
        out.append(clean)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_file(path: Path, features: list[str] | None, limit: int) -> list[dict[str, Any]]:
    """Rows of a CSV/TSV/Parquet table or a JSON-lines file (only ``features`` if given)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        if not path.is_file():
            raise NotFoundError(f"data file {path} does not exist", fix="check the path")
        rows = []
        with path.open("rb") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValidationError(f"{path}:{number} is not JSON: {exc}",
                                          fix="one JSON object per line") from None
                if not isinstance(row, dict):
                    raise ValidationError(f"{path}:{number} is not a JSON object",
                                          fix="one JSON object per line")
                rows.append(row)
                if len(rows) >= limit:
                    break
    else:
        from rampup.registry.profile import read_table

        frame = read_table(path)
        if features is not None:
            frame = frame[[c for c in frame.columns if c in set(features)]]
        frame = frame.head(limit)
        rows = [{str(k): _clean(v) for k, v in r.items()}
                for r in frame.to_dict(orient="records")]
    if features is not None:
        rows = [{k: v for k, v in r.items() if k in features} for r in rows]
    if not rows:
        raise ValidationError(f"{path} holds no rows", fix="give a file with at least one row")
    return rows


def from_log(store: Database, model: str, since: float, limit: int) -> list[dict[str, Any]]:
    """The inputs of up to ``limit`` answered requests logged since ``since`` (oldest first)."""
    rows: list[dict[str, Any]] = []
    for chunk in store.predictions.iter_predictions(model, since=since, roles=["answer"],
                                                    with_labels=False, chunk_size=min(limit,
                                                                                      10_000)):
        for r in chunk:
            inputs = orjson.loads(r["inputs"]) if r.get("inputs") else None
            if isinstance(inputs, dict):
                rows.append(inputs)
        if len(rows) >= limit:
            break
    if not rows:
        raise NotFoundError(f"the prediction log holds no requests to {model!r} in that time",
                            fix="widen --replay-log (e.g. 7d), or check the model name and "
                                "the --database-url")
    return rows[:limit]


def serving_version(store: Database, model: str) -> VersionRecord:
    """The version answering most traffic now (else the newest registered)."""
    dep = store.deployments.current_deployment(model)
    if dep is not None:
        routes = dep.policy.get("routes") or {}
        if routes:
            name = max(routes, key=lambda v: float(routes[v]))
            record = store.models.get_version(model, name)
            if record is not None:
                return record
    versions = store.models.list_versions(model)
    if not versions:
        raise NotFoundError(f"model {model!r} has no registered versions here, so there is "
                            "no schema to generate requests from",
                            fix="give --data FILE or --replay-log SINCE, or point "
                                "--project/--database-url at the model's project")
    return max(versions, key=lambda v: v.seq)


def encode(rows: Iterable[Mapping[str, Any]]) -> list[bytes]:
    return [orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) for r in rows]
