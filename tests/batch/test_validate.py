"""Batch validation agrees with the realtime Validator, row by row and field by field."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from rampup.batch.validate import describe, extra_columns, validate_frame
from rampup.registry.schema import Feature, InputSchema
from rampup.serving.validation import InputErrors, Validator

SCHEMA = InputSchema([
    Feature("i", "int"),
    Feature("in_", "int", nullable=True),
    Feature("f", "float"),
    Feature("fn", "float", nullable=True),
    Feature("b", "bool"),
    Feature("bn", "bool", nullable=True),
    Feature("c", "str", categories=("ab", "bb", "ccc"), strict_categories=True),
    Feature("loose", "str", categories=("ab", "bb")),
    Feature("t", "str", nullable=True, min_length=2, max_length=4),
])
MISSING = object()

# Values of the one Python type each dtype's valid values have (homogeneous columns take
# the validator's fast paths), then anything else JSON can hold.
VALID: dict[str, list[Any]] = {
    "int": [0, 7, -3, 10**12], "float": [0.5, -2.25, 1e300, 3.0],
    "bool": [True, False], "str": ["ab", "bb", "ccc"],
}
ANY: list[Any] = [0, 1, 2, -5, 3.0, 2.5, float("nan"), float("inf"), float("-inf"), True, False,
                  "a", "ab", "bb", "ccc", "zz", "", "toolong", "1", "nan", None, MISSING,
                  [1], {"a": 1}]


def random_records(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    rates = {f.name: rng.choice([0.0, 0.01, 0.1]) for f in SCHEMA.features}
    records = []
    for _ in range(n):
        rec: dict[str, Any] = {}
        for f in SCHEMA.features:
            pool = ANY if rng.random() < rates[f.name] else VALID[f.dtype]
            value = pool[rng.integers(len(pool))]
            if value is not MISSING:
                rec[f.name] = value
        records.append(rec)
    return records


def realtime_fields(records: list[dict[str, Any]]) -> dict[int, set[str]]:
    validator = Validator(SCHEMA)
    out: dict[int, set[str]] = {}
    for i, rec in enumerate(records, start=1):
        try:
            validator.validate([rec])
        except InputErrors as exc:
            out[i] = {str(p["field"]) for p in exc.problems}
    return out


def object_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({f.name: pd.Series([r.get(f.name) for r in records], dtype=object)
                         for f in SCHEMA.features})


@pytest.mark.parametrize("seed", range(25))
def test_agrees_with_the_realtime_validator(seed: int) -> None:
    records = random_records(np.random.default_rng(seed), 300)
    result = validate_frame(object_frame(records), SCHEMA)
    batch_fields: dict[int, set[str]] = {}
    for row, field, reason in result.problems:
        batch_fields.setdefault(row, set()).add(field)
        assert reason
    assert batch_fields == realtime_fields(records)
    good = [r for i, r in enumerate(records, start=1) if i not in batch_fields]
    assert result.batch.n == len(good) == int(result.good.sum())
    if good:
        expected = Validator(SCHEMA).validate(good).columns
        assert result.batch.columns == expected
        for name, values in expected.items():  # same Python types, not just equal values
            assert [type(v) for v in result.batch.columns[name]] == [type(v) for v in values]


def test_problems_are_ordered_by_row_then_feature_and_use_given_row_numbers() -> None:
    schema = InputSchema([f for f in SCHEMA.features if f.name in ("i", "f", "b", "c")])
    records = [{"i": "x", "f": None, "b": True, "c": "ab"},
               {"i": 1, "f": 1.0, "b": True, "c": "ab"},
               {"i": 1, "f": "y", "b": 2, "c": "q"}]
    frame = pd.DataFrame({k: pd.Series([r[k] for r in records], dtype=object)
                          for k in records[0]})
    result = validate_frame(frame, schema, rows=[10, 20, 30])
    assert [(r, f) for r, f, _ in result.problems] == [
        (10, "i"), (10, "f"), (30, "f"), (30, "b"), (30, "c")]
    assert result.good.tolist() == [False, True, False]
    assert result.bad_rows == 2
    reasons = {(r, f): why for r, f, why in result.problems}
    assert reasons[(10, "i")] == "must be an integer, got string 'x'"
    assert reasons[(10, "f")] == "is null and is required"
    assert reasons[(30, "b")] == "must be true or false, got number 2"
    assert reasons[(30, "c")].startswith("has value 'q', which is not an allowed category")


TEXT_SCHEMA = InputSchema([Feature("x", "float", nullable=True), Feature("n", "int"),
                           Feature("flag", "bool"), Feature("s", "str", max_length=3)])


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("x", " 1.5 ", 1.5), ("x", "1e3", 1000.0), ("x", "-2", -2.0), ("x", None, None),
    ("n", "42", 42), ("n", "42.0", 42), ("n", "-7", -7),
    ("n", "9007199254740993", 9007199254740993),
    ("flag", "true", True), ("flag", "FALSE", False), ("flag", "1", True), ("flag", "0", False),
    ("s", "abc", "abc"), ("s", " a", " a"),
])
def test_csv_text_is_read_as_the_feature_type(field: str, text: str | None,
                                              expected: object) -> None:
    row = {"x": "0", "n": "0", "flag": "true", "s": "a", field: text}
    frame = pa.table({k: pa.array([v], pa.string()) for k, v in row.items()}).to_pandas(
        types_mapper=pd.ArrowDtype)
    result = validate_frame(frame, TEXT_SCHEMA, text=True)
    assert result.problems == []
    value = result.batch.columns[field][0]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(("field", "text", "reason"), [
    ("x", "abc", "must be a number, got string 'abc'"),
    ("x", "nan", "is NaN, which is not allowed"),
    ("x", "-inf", "is -Infinity, which is not allowed"),
    ("x", "0x10", "must be a number, got string '0x10'"),
    ("n", "2.5", "must be an integer, got string '2.5'"),
    ("n", None, "is missing and is required"),
    ("flag", "yes", "must be true or false, got string 'yes'"),
    ("flag", "2", "must be true or false, got string '2'"),
    ("s", "abcd", "is 4 characters long, longer than 3"),
])
def test_csv_text_problems(field: str, text: str | None, reason: str) -> None:
    # The bad value sits among good ones, so the column still parses (no crash).
    rows = [{"x": "1", "n": "1", "flag": "true", "s": "a"} for _ in range(3)]
    rows[1][field] = text  # type: ignore[assignment]
    frame = pa.table({k: pa.array([r[k] for r in rows], pa.string()) for k in rows[0]}
                     ).to_pandas(types_mapper=pd.ArrowDtype)
    result = validate_frame(frame, TEXT_SCHEMA, rows=[5, 6, 7], text=True)
    assert result.problems == [(6, field, reason)]
    assert result.batch.n == 2


def test_arrow_nulls_and_nans_stay_distinct() -> None:
    schema = InputSchema([Feature("v", "float", nullable=True)])
    frame = pa.table({"v": pa.array([1.0, float("nan"), None], from_pandas=False)}).to_pandas(
        types_mapper=pd.ArrowDtype)
    result = validate_frame(frame, schema)
    assert result.problems == [(2, "v", "is NaN, which is not allowed")]
    assert result.batch.columns == {"v": [1.0, None]}


def test_numpy_nan_means_missing_and_typed_dtypes_are_checked() -> None:
    schema = InputSchema([Feature("v", "float"), Feature("k", "int", nullable=True),
                          Feature("flag", "bool"), Feature("s", "str")])
    frame = pd.DataFrame({"v": [1.0, np.nan, 3.0],
                          "k": pd.array([1, None, 3], dtype="Int64"),
                          "flag": [True, False, True],
                          "s": pd.Series(["a", "b", 3], dtype=object)})
    result = validate_frame(frame, schema)
    assert result.problems == [(2, "v", "is null and is required"),
                               (3, "s", "must be a string, got number 3")]
    assert result.batch.columns == {"v": [1.0], "k": [1], "flag": [True], "s": ["a"]}


def test_a_missing_column_fails_every_row_unless_nullable() -> None:
    schema = InputSchema([Feature("a", "int"), Feature("b", "str", nullable=True)])
    result = validate_frame(pd.DataFrame({"z": [1, 2]}), schema)
    assert result.problems == [(1, "a", "is missing and is required"),
                               (2, "a", "is missing and is required")]
    ok = validate_frame(pd.DataFrame({"a": [1, 2]}), schema)
    assert ok.batch.columns == {"a": [1, 2], "b": [None, None]}
    assert extra_columns(["a", "z", "id"], schema, ignore=["id"]) == ["z"]


def test_free_form_schema_passes_rows_through() -> None:
    result = validate_frame(pd.DataFrame({"text": ["hi", None]}), InputSchema.any())
    assert result.batch.raw == [{"text": "hi"}, {"text": None}]
    assert result.problems == []


def test_describe_names_values_like_the_realtime_validator() -> None:
    assert describe(np.float64(2.5)) == "number 2.5"
    assert describe(math.nan) == "NaN"
    assert describe([1]) == "an array"
    assert describe({"a": 1}) == "an object"
    assert describe(pd.Timestamp(0)) == "Timestamp"


def wide_frame(n: int, text: bool) -> tuple[pd.DataFrame, InputSchema]:
    rng = np.random.default_rng(0)
    cols: dict[str, pa.Array] = {}
    feats = []
    for j in range(15):
        kind = ("float", "int", "str", "bool", "float")[j % 5]
        name = f"c{j}"
        if kind == "float":
            cols[name] = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.05)
            feats.append(Feature(name, "float", nullable=True))
        elif kind == "int":
            cols[name] = pa.array(rng.integers(0, 100, n))
            feats.append(Feature(name, "int"))
        elif kind == "str":
            cols[name] = pa.array(rng.choice(["paris", "rome", "oslo"], n))
            feats.append(Feature(name, "str", categories=("paris", "rome", "oslo"),
                                 strict_categories=True))
        else:
            cols[name] = pa.array(rng.random(n) < 0.5)
            feats.append(Feature(name, "bool"))
    table = pa.table(cols)
    if text:
        table = table.cast(pa.schema([(c, pa.string()) for c in table.column_names]))
    return table.to_pandas(types_mapper=pd.ArrowDtype), InputSchema(feats)


@pytest.mark.parametrize("text", [False, True], ids=["typed", "csv-text"])
def test_wide_frames_validate_chunk_by_chunk(text: bool) -> None:
    """Behaviour only: its speed is asserted by benchmarks/batch.py (against an Arrow
    baseline measured in the same run), not here, where a loaded machine would fail it."""
    n, chunk = 20_000, 5_000
    frame, schema = wide_frame(n, text)
    typed, _ = wide_frame(n, False)
    for start in range(0, n, chunk):
        result = validate_frame(frame.iloc[start:start + chunk], schema, text=text)
        assert result.problems == []
        assert result.batch.n == chunk
        want = typed.iloc[start:start + chunk]
        for name in ("c0", "c1", "c2", "c3"):  # float with nulls, int, str, bool
            expected = [None if v is pd.NA else v for v in want[name].tolist()]
            assert result.batch.columns[name] == expected


def test_python_ints_past_64_bits_and_past_float_range_are_named() -> None:
    """Records parsed from JSON can hold any Python int: a float feature takes 10**30,
    an int feature cannot hold it, and 10**400 (past float64) is named, not raised."""
    schema = InputSchema([Feature("a", "int"), Feature("b", "float")])
    frame = pd.DataFrame({"a": pd.Series([10**30, 5, 7, 10**5000], dtype=object),
                          "b": pd.Series([1.0, 10**400, 10**30, 2.0], dtype=object)})
    result = validate_frame(frame, schema)
    assert [(row, field) for row, field, _ in result.problems] == [(1, "a"), (2, "b"),
                                                                   (4, "a")]
    assert "outside the 64-bit range" in result.problems[0][2]
    assert "digits" in result.problems[2][2]
    assert result.batch.columns == {"a": [7], "b": [1e30]}
