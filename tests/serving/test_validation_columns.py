"""Many records are checked a column at a time: the same batch, or the same problems,
as record by record — whatever the records hold."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rampup.registry.schema import Feature, InputSchema
from rampup.serving import validation
from rampup.serving.validation import InputErrors, Validator

SCHEMA = InputSchema([
    Feature("x", "float"), Feature("y", "float", nullable=True), Feature("n", "int"),
    Feature("flag", "bool", nullable=True),
    Feature("city", "str", categories=("paris", "rome"), strict_categories=True),
])

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**63), 2**63 - 1),
    st.booleans(), st.none(), st.sampled_from(["paris", "rome", "oslo", ""]),
    st.just([1.0]), st.just({"a": 1}))
GOOD = {"x": st.floats(allow_nan=False, allow_infinity=False) | st.integers(-1000, 1000),
        "y": st.none() | st.floats(-1e6, 1e6), "n": st.integers(-5, 5) | st.just(3.0),
        "flag": st.booleans() | st.none() | st.sampled_from([0, 1]),
        "city": st.sampled_from(["paris", "rome"])}


def mostly_good() -> st.SearchStrategy[dict[str, Any]]:
    """Valid records, sometimes with one field spoiled, missing or extra."""
    good = st.fixed_dictionaries(GOOD)

    def spoil(rec: dict[str, Any], how: int, field: str, value: Any) -> dict[str, Any]:
        rec = dict(rec)
        if how == 1:
            rec[field] = value
        elif how == 2:
            rec.pop(field)
        elif how == 3:
            rec["extra"] = value
        return rec

    return st.builds(spoil, good, st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2, 3]),
                     st.sampled_from(sorted(GOOD)), VALUES)


def record_by_record(records: list[Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(validation, "_COLUMNWISE_FROM", 10**9)
        return _outcome(records)


def _outcome(records: list[Any]) -> Any:
    try:
        batch = Validator(SCHEMA).validate([dict(r) if isinstance(r, dict) else r
                                            for r in records])
    except InputErrors as exc:
        return ("errors", exc.details["problems"])
    # values and their types: 1 and 1.0 must not pass for each other
    return ("batch", {k: [(type(v), None if isinstance(v, float) and math.isnan(v) else v)
                          for v in col] for k, col in batch.columns.items()})


@settings(max_examples=150, deadline=None)
@given(st.lists(mostly_good(), min_size=16, max_size=60))
def test_columns_at_a_time_give_what_records_one_by_one_give(
        records: list[dict[str, Any]]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        assert _outcome(records) == record_by_record(records, mp)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.fixed_dictionaries(GOOD), VALUES), min_size=16, max_size=30))
def test_records_that_are_not_objects_are_named_the_same(records: list[Any]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        assert _outcome(records) == record_by_record(records, mp)


def test_a_valid_batch_takes_the_column_path() -> None:
    records = [{"x": float(i), "y": None, "n": i, "flag": True, "city": "rome"}
               for i in range(40)]
    assert Validator(SCHEMA)._columnwise(records) is not None
    records[7]["x"] = math.inf  # one bad value: the record path names it
    assert Validator(SCHEMA)._columnwise(records) is None
    with pytest.raises(InputErrors) as info:
        Validator(SCHEMA).validate(records)
    assert info.value.details["problems"][0]["record"] == 7
    assert info.value.details["problems"][0]["field"] == "x"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.fixed_dictionaries(GOOD), min_size=16, max_size=60))
def test_valid_records_give_the_same_columns_and_types(records: list[dict[str, Any]]) -> None:
    assert Validator(SCHEMA)._columnwise([dict(r) for r in records]) is not None
    with pytest.MonkeyPatch.context() as mp:
        assert _outcome(records) == record_by_record(records, mp)
