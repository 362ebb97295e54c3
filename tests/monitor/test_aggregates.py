"""Window aggregates against exact NumPy/pandas computation on seeded data; merging parts
equals aggregating the whole; JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from rampup.monitor.aggregates import WindowAggregate, merge_all
from rampup.monitor.compute import catalogue, metric_value
from rampup.monitor.ingest import first_of_request, ingest
from rampup.monitor.repeats import RepeatDetector
from rampup.predlog.writer import PredictionRecord
from rampup.registry.profile import bin_counts
from tests.monitor.helpers import info, make_records, reference

ALPHA = 0.01


def frame_of(records: list[PredictionRecord]) -> pd.DataFrame:
    return pd.DataFrame([r.inputs for r in records])


def aggregate(records: list[PredictionRecord]) -> WindowAggregate:
    agg = WindowAggregate()
    ingest(agg, records, info())
    return agg


def test_inputs_match_exact_computation() -> None:
    records = make_records(4000, seed=7, shift=1.5, unseen=0.1)
    agg = aggregate(records)
    df = frame_of(records)
    _, _, profile = reference()

    x = df["x"].to_numpy(dtype=float)
    fx = agg.features["x"]
    present = x[~np.isnan(x)]
    assert (fx.count, fx.missing) == (len(present), int(np.isnan(x).sum()))
    assert fx.moments.mean == pytest.approx(present.mean(), rel=1e-12)
    assert fx.moments.std == pytest.approx(present.std(), rel=1e-9)
    assert (fx.moments.min, fx.moments.max) == (present.min(), present.max())
    assert fx.hist is not None
    assert fx.hist.counts.tolist() == bin_counts(x, profile["features"]["x"]).tolist()
    assert fx.hist.to_dict()["edges"] == profile["features"]["x"]["bins"]

    city = agg.features["city"]
    expected = df["city"].dropna().value_counts().to_dict()
    assert city.cats is not None
    assert city.cats.counts == expected
    assert city.missing == int(df["city"].isna().sum())
    assert city.unseen == expected["berlin"]

    flag = agg.features["flag"]
    assert flag.cats is not None
    assert flag.cats.counts == {str(k): v for k, v in df["flag"].value_counts().items()}
    assert flag.unseen == 0

    note = agg.features["note"]
    assert note.kind == "text"
    assert note.moments.mean == pytest.approx(df["note"].str.len().mean())
    assert agg.input_length.mean == pytest.approx(df["note"].str.len().mean())


def test_software_and_outputs_match_exact_computation() -> None:
    records = make_records(3000, seed=8)
    agg = aggregate(records)
    firsts = [r for r in records if first_of_request(r)]
    lat = np.array([r.latency_ms for r in firsts])
    assert agg.predictions == len(records)
    assert agg.requests == len(firsts) < len(records)
    assert agg.errors == {"model_error": sum(r.error is not None for r in firsts)}
    for q in (0.5, 0.9, 0.95, 0.99):
        exact = float(np.quantile(lat, q, method="lower"))
        assert metric_value(agg, f"latency_p{round(q * 100)}", 60.0) == pytest.approx(
            exact, rel=ALPHA)
    assert metric_value(agg, "latency_mean", 60.0) == pytest.approx(lat.mean())

    ok = [r for r in records if r.error is None]
    preds = [r.outputs["prediction"] for r in ok]
    nulls = sum(p is None for p in preds)
    assert (agg.output.n, agg.output.null) == (len(ok), nulls)
    assert metric_value(agg, "null_fraction", 60.0) == pytest.approx(nulls / len(ok))
    ones = sum(p == 1 for p in preds)
    assert metric_value(agg, "class_share[1]", 60.0) == pytest.approx(ones / (len(ok) - nulls))
    conf = np.array([r.confidence for r in ok if r.confidence is not None])
    assert metric_value(agg, "confidence_p10", 60.0) == pytest.approx(
        float(np.quantile(conf, 0.1, method="lower")), rel=ALPHA)
    assert metric_value(agg, "confidence_mean", 60.0) == pytest.approx(conf.mean())


def comparable(agg: WindowAggregate) -> dict[str, Any]:
    """Every catalogue metric's value: floats compared approximately."""
    names = catalogue(agg, [info()])["metrics"]
    return {n: metric_value(agg, n, 60.0) for n in names}


@pytest.mark.parametrize("seed", range(6))
def test_merge_equals_aggregating_the_union(seed: int) -> None:
    rng = np.random.default_rng(seed)
    records = make_records(1500, seed=seed, keys=20)
    cuts = np.sort(rng.choice(len(records), int(rng.integers(1, 5)), replace=False))
    parts = [records[a:b] for a, b in zip([0, *cuts], [*cuts, len(records)], strict=True)]
    whole = WindowAggregate()
    ingest(whole, records, info(), detector=RepeatDetector())
    pieces = []
    detector = RepeatDetector()  # one process's detector sees every part in order
    for part in parts:
        a = WindowAggregate()
        ingest(a, part, info(), detector=detector)
        pieces.append(a)
    # merge in a shuffled order: the result must not depend on it
    order = rng.permutation(len(pieces))
    merged = merge_all([pieces[i] for i in order])
    got, want = comparable(merged), comparable(whole)
    assert got.keys() == want.keys()
    for name, value in want.items():
        if value is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    a, b = merged.to_dict(), whole.to_dict()
    for d in (a, b):  # float sums differ in the last bits; the rest is identical
        d["software"]["latency_ms"].pop("sum")
        d["output"]["confidence"].pop("sum")
        for f in d["inputs"]["features"].values():
            f.pop("moments")
        d["inputs"].pop("length")
    assert a == b


def test_json_round_trip() -> None:
    agg = aggregate(make_records(500, seed=2, keys=5))
    agg.gauge("in_flight").sample(3.0)
    agg.events.add_counts({"clicked": 2})
    agg.performance.add(1, 0, regression=False)
    text = json.dumps(agg.to_dict())
    back = WindowAggregate.from_dict(json.loads(text))
    assert back.to_dict() == agg.to_dict()
    assert comparable(back) == comparable(agg)
    partial = WindowAggregate.from_dict(json.loads(text), {"output"})
    assert partial.requests == agg.requests
    assert partial.output.n == agg.output.n
    assert partial.features == {}
    assert partial.performance.labelled == 0


def test_merging_versions_with_different_bins_drops_only_the_histogram() -> None:
    a = aggregate(make_records(100, seed=1))
    b = WindowAggregate()
    plain = info().__class__.from_parts(*reference()[:2], None)  # no profile: log bins
    ingest(b, make_records(100, seed=2), plain)
    counts = a.features["x"].count + b.features["x"].count
    a.merge(b)
    assert a.features["x"].hist is None
    assert a.features["x"].count == counts
    assert a.predictions == 200


def test_repeats_with_a_schema_and_free_form() -> None:
    base = make_records(3, seed=9, keys=0, error_rate=0.0)
    for r in base:
        r.request_key = "alice"
    first, second, third = base
    second.inputs = {**first.inputs, "note": "  " + str(first.inputs["note"]).upper()}
    second.ts = first.ts + 5
    third.inputs = dict(first.inputs)
    third.ts = first.ts + 500  # past the horizon: not a repeat
    agg = WindowAggregate()
    ingest(agg, base, info(), detector=RepeatDetector(horizon_s=60))
    assert (agg.keyed, agg.repeated, agg.repeated_exact) == (3, 1, 0)

    free = info().__class__.free()
    for r, text in zip(base, ["Where is  Oslo?", "where is oslo?", "where is oslo?"],
                       strict=True):
        r.inputs = {"q": text}
        r.ts = first.ts
    agg = WindowAggregate()
    ingest(agg, base, free, detector=RepeatDetector())
    assert (agg.keyed, agg.repeated, agg.repeated_exact) == (3, 2, 1)
    assert agg.input_length.mean == pytest.approx((15 + 14 + 14) / 3)
