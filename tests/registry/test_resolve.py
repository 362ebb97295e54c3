"""Schema precedence and output resolution (pure functions)."""

from __future__ import annotations

import pandas as pd
import pytest

from rampup.errors import ValidationError
from rampup.project import FeatureSpec
from rampup.registry.resolve import (
    check_declared,
    declared_schema,
    merge_schema,
    reference_batch,
    resolve_output,
)
from rampup.registry.schema import Feature, InputSchema, OutputSpec


def test_reference_types_for_artifact_names_in_artifact_order() -> None:
    art = InputSchema([Feature("b"), Feature("a")])
    ref = InputSchema([Feature("a", "int"), Feature("b", "str", categories=("x",)),
                       Feature("unused")])
    merged = merge_schema(art, ref)
    assert merged is not None
    assert [(f.name, f.dtype) for f in merged.features] == [("b", "str"), ("a", "int")]
    assert merge_schema(None, ref) == ref
    assert merge_schema(art, None) == art


def test_missing_reference_columns_are_named() -> None:
    art = InputSchema([Feature("income"), Feature("age")])
    with pytest.raises(ValidationError, match=r"expects feature.*age.*reference data"):
        merge_schema(art, InputSchema([Feature("income")]))


def test_positional_names_need_a_matching_column_count() -> None:
    art = InputSchema([Feature("f0"), Feature("f1")])
    with pytest.raises(ValidationError, match=r"2 unnamed features.*3 feature columns"):
        merge_schema(art, InputSchema([Feature("a"), Feature("b"), Feature("c")]))


def test_declared_features_must_cover_the_model() -> None:
    declared = declared_schema([FeatureSpec(name="age", type="int", nullable=True),
                                FeatureSpec(name="city", type="str", categories=["a"],
                                            strict_categories=True)])
    assert declared.features[1] == Feature("city", "str", categories=("a",),
                                           strict_categories=True)
    check_declared(declared, InputSchema([Feature("age")]))
    with pytest.raises(ValidationError, match="income"):
        check_declared(declared, InputSchema([Feature("income")]))
    with pytest.raises(ValidationError, match="2 features are declared but the model takes 3"):
        check_declared(declared, InputSchema([Feature(f"f{i}") for i in range(3)]))


def test_classes_come_from_sorted_reference_labels() -> None:
    spec = resolve_output(OutputSpec("class", None, True), pd.Series(["b", "a", None, "b"]))
    assert spec == OutputSpec("class", ("a", "b"), True)
    known = OutputSpec("class", (1, 0))
    assert resolve_output(known, pd.Series([0, 1])) is known
    assert resolve_output(OutputSpec("number"), pd.Series([0.5])) == OutputSpec("number")


def test_reference_batch_turns_missing_values_into_none() -> None:
    df = pd.DataFrame({"x": [1.5, None], "k": [1, 2], "s": ["a", None]})
    schema = InputSchema([Feature("x"), Feature("k", "int"), Feature("s", "str")])
    batch = reference_batch(df, schema)
    assert batch.columns == {"x": [1.5, None], "k": [1, 2], "s": ["a", None]}
    assert type(batch.columns["k"][0]) is int
    free = reference_batch(df, InputSchema.any(), limit=1)
    assert free.raw == [{"x": 1.5, "k": 1, "s": "a"}]
