"""Schema inference and reference profiles, checked against numpy."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rampup.errors import NotFoundError, ValidationError
from rampup.registry.profile import (
    OTHER,
    TOP_VALUES,
    bin_counts,
    bin_edges,
    compute_profile,
    infer_schema,
    profile_from_path,
    read_table,
)
from rampup.registry.schema import Feature, InputSchema


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 3, n)
    x[rng.random(n) < 0.2] = np.nan
    words = np.array([f"w{i}" for i in range(200)])
    return pd.DataFrame({
        "x": x,
        "k": rng.integers(0, 5, n),
        "flag": rng.random(n) < 0.3,
        "city": rng.choice(["a", "b", "c"], n),
        "note": rng.choice(words, n),
        "y": rng.integers(0, 2, n),
    })


def test_infer_schema_types_nullability_and_categories() -> None:
    df = _frame(500, 1)
    df.loc[3, "city"] = None
    schema = infer_schema(df, exclude=["y"])
    got = {f.name: (f.dtype, f.nullable, f.categories) for f in schema.features}
    assert got == {
        "x": ("float", True, None),
        "k": ("int", False, None),
        "flag": ("bool", False, None),
        "city": ("str", True, ("a", "b", "c")),
        "note": ("str", False, None),  # 200 distinct values: free text
    }
    assert not any(f.strict_categories for f in schema.features)
    nullable_int = pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64"),
                                 "b": pd.array([True, None, False], dtype=object)})
    inferred = {f.name: (f.dtype, f.nullable) for f in infer_schema(nullable_int).features}
    assert inferred == {"n": ("int", True), "b": ("bool", True)}


@pytest.mark.parametrize(("n", "n_bins"), [(400, 10), (5000, 20)])
def test_numeric_profile_matches_numpy(n: int, n_bins: int) -> None:
    df = _frame(n, 2)
    p = compute_profile(df, infer_schema(df, exclude=["y"]), "y")["features"]["x"]
    x = df["x"].to_numpy()
    present = x[~np.isnan(x)]
    assert p["kind"] == "numeric"
    assert p["type"] == "float"
    assert p["count"] == len(present)
    assert p["missing_fraction"] == pytest.approx(np.isnan(x).mean())
    assert p["mean"] == pytest.approx(present.mean())
    assert p["std"] == pytest.approx(present.std())
    assert (p["min"], p["max"]) == (present.min(), present.max())
    np.testing.assert_allclose(p["quantiles"], np.quantile(present, np.linspace(0, 1, 101)))
    edges = bin_edges(p)
    assert edges[0] == -np.inf
    assert edges[-1] == np.inf
    assert len(edges) == n_bins + 1
    step = 100 // n_bins
    inner = np.quantile(present, np.arange(step, 100, step) / 100, method="inverted_cdf")
    np.testing.assert_array_equal(edges[1:-1], inner)
    assert sum(p["counts"]) == len(present)
    expected = [int(((present >= lo) & (present < hi)).sum()) for lo, hi in
                itertools.pairwise(edges)]
    assert p["counts"] == expected
    assert bin_counts(present, p).tolist() == expected


def test_discrete_bins_are_deduplicated() -> None:
    df = pd.DataFrame({"k": np.repeat([0, 1], [300, 700])})
    p = compute_profile(df, infer_schema(df))["features"]["k"]
    assert p["bins"] == ["-inf", 0.0, 1.0, "inf"]
    assert p["counts"] == [0, 300, 700]


def test_categorical_bool_text_and_label_profiles() -> None:
    df = _frame(2000, 3)
    p = compute_profile(df, infer_schema(df, exclude=["y"]), label_column="y")
    city = p["features"]["city"]
    counts = df["city"].value_counts()
    assert city["kind"] == "categorical"
    assert city["counts"] == {k: int(v) for k, v in counts.items()}
    assert city["frequencies"]["a"] == pytest.approx(counts["a"] / len(df))
    assert sum(city["frequencies"].values()) == pytest.approx(1.0)
    flag = p["features"]["flag"]
    assert flag["counts"] == {"True": int(df["flag"].sum()), "False": int((~df["flag"]).sum())}
    note = p["features"]["note"]
    assert note["kind"] == "text"
    lengths = df["note"].str.len().to_numpy()
    assert note["length"]["mean"] == pytest.approx(lengths.mean())
    assert note["length"]["max"] == lengths.max()
    assert note["distinct"] == df["note"].nunique()
    label = p["label"]
    assert label["name"] == "y"
    assert label["counts"] == {str(k): int(v) for k, v in df["y"].value_counts().items()}
    assert p["rows"] == 2000
    json.dumps(p, allow_nan=False)  # storable as strict JSON: no NaN or infinity


def test_the_whole_vocabulary_up_to_a_bound_then_other() -> None:
    """Profiles name up to TOP_VALUES categories (a value they do not name cannot be
    recognised as unseen later); beyond, the rarest are lumped into __other__."""
    rng = np.random.default_rng(4)
    values = rng.choice([f"c{i:04d}" for i in range(TOP_VALUES + 10)], 30_000)
    df = pd.DataFrame({"c": values})
    schema = InputSchema([Feature("c", "str", categories=tuple(sorted(set(values))))])
    p = compute_profile(df, schema)["features"]["c"]
    assert len(p["counts"]) == TOP_VALUES + 1
    top = pd.Series(values).value_counts()
    assert p["counts"][OTHER] == int(top.iloc[TOP_VALUES:].sum())
    assert sum(p["counts"].values()) == 30_000
    assert p["distinct"] == TOP_VALUES + 10
    few = compute_profile(df.iloc[:3000].assign(c=lambda d: d["c"].str[:4]), schema)
    assert OTHER not in few["features"]["c"]["counts"]


def test_all_missing_column_is_json_safe() -> None:
    df = pd.DataFrame({"x": [np.nan] * 5, "s": pd.Series([None] * 5, dtype=object)})
    schema = InputSchema([Feature("x", nullable=True), Feature("s", "str", nullable=True)])
    p = compute_profile(df, schema)
    assert p["features"]["x"]["missing_fraction"] == 1.0
    assert p["features"]["x"]["mean"] is None
    assert p["features"]["s"]["length"]["mean"] is None
    json.dumps(p, allow_nan=False)


def test_read_table_and_profile_from_path(tmp_path: Path) -> None:
    df = _frame(300, 5)
    csv, parquet = tmp_path / "d.csv", tmp_path / "d.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(parquet)
    pd.testing.assert_frame_equal(read_table(parquet), df)
    assert list(read_table(csv).columns) == list(df.columns)
    p = profile_from_path(parquet, label_column="y")
    assert p["data_hash"] == "sha256:" + hashlib.sha256(parquet.read_bytes()).hexdigest()
    assert "y" not in p["features"]
    assert p["label"]["name"] == "y"
    frame_profile = compute_profile(df, infer_schema(df))
    assert frame_profile["data_hash"] == compute_profile(df.copy(), infer_schema(df))["data_hash"]
    assert frame_profile["data_hash"] != compute_profile(df.head(10), infer_schema(df))["data_hash"]
    with pytest.raises(ValidationError, match="unsupported file type"):
        read_table(tmp_path / "d.xlsx")
    with pytest.raises(NotFoundError):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="no column"):
        compute_profile(df, InputSchema([Feature("nope")]))
