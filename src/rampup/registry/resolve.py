"""Deciding a version's schema and output from what each source says (pure functions).

Precedence for the input schema: declared features > the reference data's types and
categories, for the feature names the artifact gives > the artifact alone. Artifacts
that know features only by position (``f0 .. f{n-1}``: an ONNX matrix input, a
scikit-learn model fitted on an array) take the reference data's column names in order.

>>> art = InputSchema([Feature("age"), Feature("city")])
>>> ref = InputSchema([Feature("city", "str", categories=("a", "b")), Feature("age", "int"),
...                    Feature("extra")])
>>> [(f.name, f.dtype) for f in merge_schema(art, ref).features]
[('age', 'int'), ('city', 'str')]
>>> [f.name for f in merge_schema(InputSchema([Feature("f0"), Feature("f1")]),
...                              InputSchema([Feature("x"), Feature("y")])).features]
['x', 'y']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from rampup.errors import ValidationError
from rampup.project import FeatureSpec
from rampup.registry.flavors.base import positional_names
from rampup.registry.predictor import FeatureBatch
from rampup.registry.schema import MEDIA_DTYPES, Feature, InputSchema, OutputSpec


def declared_schema(features: Sequence[FeatureSpec]) -> InputSchema:
    """An InputSchema from ``features:`` in rampup.yaml (or the Python API)."""
    return InputSchema([
        Feature(f.name, f.type, nullable=f.nullable,
                categories=tuple(f.categories) if f.categories is not None else None,
                strict_categories=f.strict_categories, min_length=f.min_length,
                max_length=f.max_length)
        for f in features])


def is_positional(schema: InputSchema) -> bool:
    return bool(schema.features) and schema.names == positional_names(len(schema.features))


def merge_schema(artifact: InputSchema | None, reference: InputSchema | None) -> InputSchema | None:
    """The artifact's features, typed from the reference data where it has them.

    Raises ValidationError when the reference data lacks a feature the artifact needs.
    """
    if reference is None:
        return artifact
    if artifact is None or not artifact.features:
        return reference
    ref_names = reference.names
    if is_positional(artifact) and not set(artifact.names) <= set(ref_names):
        if len(ref_names) != len(artifact.features):
            raise ValidationError(
                f"the model takes {len(artifact.features)} unnamed features but the reference "
                f"data has {len(ref_names)} feature columns ({', '.join(ref_names)})",
                fix="pass reference data with exactly the model's columns, in training order "
                    "(plus the label column, named with --label-column)")
        return reference
    missing = [n for n in artifact.names if n not in ref_names]
    if missing:
        raise ValidationError(
            f"the model expects feature(s) {', '.join(missing)}, which the reference data "
            f"does not have (its columns: {', '.join(ref_names)})",
            fix="pass the data the model was trained on, or rename the columns to match")
    by_name = {f.name: f for f in reference.features}
    # an image/audio/text/tensor/embedding feature keeps the artifact's declaration (the
    # reference column holds file paths or lists, which would read as strings)
    return InputSchema([f if f.dtype in MEDIA_DTYPES else by_name[f.name]
                        for f in artifact.features], allow_extra=artifact.allow_extra)


def check_declared(declared: InputSchema, artifact: InputSchema | None) -> None:
    """Declared features must cover every named feature the artifact needs."""
    if artifact is None or is_positional(artifact):
        if artifact is not None and len(artifact.features) != len(declared.features):
            raise ValidationError(
                f"{len(declared.features)} features are declared but the model takes "
                f"{len(artifact.features)}", fix="declare one feature per model input column")
        return
    missing = [n for n in artifact.names if n not in declared.names]
    if missing:
        raise ValidationError(f"the model expects feature(s) {', '.join(missing)}, which are "
                              "not declared", fix="add them to the version's features")


def resolve_output(output: OutputSpec, labels: pd.Series | None) -> OutputSpec:
    """Fill a classifier's missing class list from the reference labels (sorted, like
    scikit-learn's ``classes_``)."""
    if output.kind != "class" or output.classes is not None or labels is None:
        return output
    from rampup.registry.flavors.base import to_python

    classes = tuple(to_python(sorted(labels.dropna().unique().tolist())))
    return OutputSpec("class", classes, has_probabilities=output.has_probabilities)


def reference_batch(df: pd.DataFrame, schema: InputSchema, limit: int = 100) -> FeatureBatch:
    """The first ``limit`` reference rows as a FeatureBatch (missing values → None)."""
    head = df.head(limit)
    if schema.free_form or not schema.features:
        records: list[Any] = [
            {str(k): (None if _missing(v) else v) for k, v in r.items()}
            for r in head.astype(object).to_dict(orient="records")]
        return FeatureBatch({}, len(records), raw=records)
    columns = {}
    for name in schema.names:
        col = head[name].astype(object)
        columns[name] = col.where(col.notna(), None).tolist()
    return FeatureBatch(columns, len(head))


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False
