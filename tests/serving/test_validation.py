from __future__ import annotations

import math

import pytest

from rampup.errors import PayloadTooLargeError, ValidationError
from rampup.registry.schema import Feature, InputSchema
from rampup.serving.validation import InputErrors, Validator, as_records, parse_json

SCHEMA = InputSchema([
    Feature("age", "int"),
    Feature("income", "float"),
    Feature("score", "float", nullable=True),
    Feature("owner", "bool"),
    Feature("city", "str", categories=("paris", "rome"), strict_categories=True),
    Feature("note", "str", nullable=True, max_length=5),
])
GOOD = {"age": 30, "income": 1.5, "score": None, "owner": True, "city": "rome", "note": "hi"}


def problems(records: list[object], schema: InputSchema = SCHEMA) -> list[dict[str, object]]:
    with pytest.raises(InputErrors) as info:
        Validator(schema).validate(records)
    return info.value.problems


def test_valid_records_become_typed_columns() -> None:
    batch = Validator(SCHEMA).validate([GOOD, {**GOOD, "age": 31.0, "income": 2, "score": 0.5}])
    assert batch.n == 2
    assert batch.columns["age"] == [30, 31]
    assert batch.columns["income"] == [1.5, 2.0]
    assert isinstance(batch.columns["income"][1], float)
    assert batch.columns["score"] == [None, 0.5]


def test_missing_nullable_feature_is_null() -> None:
    rec = dict(GOOD)
    del rec["score"]
    assert Validator(SCHEMA).validate([rec]).columns["score"] == [None]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"age": "30"}, "age", "must be an integer, got string '30'"),
    ({"age": 30.5}, "age", "must be an integer"),
    ({"age": True}, "age", "must be an integer, got boolean true"),
    ({"income": "1.5"}, "income", "must be a number"),
    ({"income": None}, "income", "is null and is required"),
    ({"owner": "yes"}, "owner", "must be true or false"),
    ({"city": "berlin"}, "city", "not an allowed category"),
    ({"city": 3}, "city", "must be a string"),
    ({"note": "toolong"}, "note", "longer than 5"),
    ({"extra": 1}, "extra", "is not a feature of this model"),
])
def test_each_problem_names_field_and_fix(change: dict[str, object], field: str,
                                          words: str) -> None:
    found = problems([{**GOOD, **change}])
    assert found[0]["field"] == field
    assert words in str(found[0]["message"])
    assert found[0]["fix"]


def test_missing_required_feature() -> None:
    rec = dict(GOOD)
    del rec["age"]
    found = problems([rec])
    assert found == [{"record": 0, "field": "age", "message": "is missing and is required",
                      "fix": "send 'age' as an integer"}]


def test_all_problems_reported_with_record_index() -> None:
    found = problems([GOOD, {**GOOD, "age": "x", "income": "y"}])
    assert [(p["record"], p["field"]) for p in found] == [(1, "age"), (1, "income")]


def test_error_message_summarises() -> None:
    with pytest.raises(InputErrors) as info:
        Validator(SCHEMA).validate([{**GOOD, "age": "x", "income": "y"}])
    assert str(info.value).startswith("record 0: feature 'age' must be an integer")
    assert "(and 1 more problems)" in str(info.value)
    assert info.value.to_dict()["field"] == "age"


def test_nan_and_infinity_literals_are_named_at_the_edge() -> None:
    with pytest.raises(ValidationError) as info:
        parse_json(b'{"age": 1, "income": NaN}')
    assert info.value.details["field"] == "income"
    assert "NaN" in info.value.message
    with pytest.raises(ValidationError) as info:
        parse_json(b'[{"age": 1}, {"x": -Infinity}]')
    assert info.value.details["field"] == "x"
    assert info.value.details["record"] == 1
    assert "-Infinity" in info.value.message
    # a non-finite float made in Python (not JSON) is still named by the validator
    assert "Infinity" in str(problems([{**GOOD, "income": math.inf}])[0]["message"])


def test_nan_rejected_even_for_nullable() -> None:
    found = problems([{**GOOD, "score": float("nan")}])
    assert found[0]["field"] == "score"
    assert "or null" in str(found[0]["fix"])


def test_non_object_record() -> None:
    found = problems([GOOD, [1, 2]])
    assert found[0]["record"] == 1
    assert "must be a JSON object, got an array" in str(found[0]["message"])


def test_problem_count_is_capped() -> None:
    found = problems([{"bad": i} for i in range(100)])
    assert len(found) == 20


def test_bad_json() -> None:
    with pytest.raises(ValidationError, match="not valid JSON"):
        parse_json(b'{"age": ')


def test_as_records_shapes_and_limits() -> None:
    assert as_records({"a": 1}, 10) == ([{"a": 1}], True)
    assert as_records([{"a": 1}, {"a": 2}], 10)[1] is False
    with pytest.raises(ValidationError, match="no records"):
        as_records([], 10)
    with pytest.raises(PayloadTooLargeError, match="more than the limit of 2"):
        as_records([{}, {}, {}], 2)
    with pytest.raises(ValidationError, match="got string"):
        as_records("hello", 2)


def test_free_form_schema_accepts_any_object() -> None:
    batch = Validator(InputSchema.any()).validate([{"text": "hi"}, {"image": [1, 2]}])
    assert batch.raw == [{"text": "hi"}, {"image": [1, 2]}]
    with pytest.raises(InputErrors):
        Validator(InputSchema.any()).validate(["text"])


def test_ignored_request_key_field() -> None:
    v = Validator(SCHEMA, ignore=["customer_id"])
    assert v.validate([{**GOOD, "customer_id": "c1"}]).n == 1
