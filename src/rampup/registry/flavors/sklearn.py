"""scikit-learn models saved with joblib or pickle (``.joblib``, ``.pkl``, ``.pickle``).

.. warning::
   Loading a joblib or pickle file **runs code** stored in that file. Register only
   files you trust (your own training jobs, your own CI), and never load an artifact
   that arrived in an unauthenticated HTTP request. rampup loads only copies held in
   its artifact store, which only an admin can write to.

The input schema comes from ``feature_names_in_`` (a model fitted on a DataFrame; types
default to float, except columns a ColumnTransformer sends to a fitted encoder with text
categories (``str`` with those categories) or through an imputer (nullable); the
reference data refines them) or, failing that, from
``n_features_in_`` (features named ``f0 .. f{n-1}``, replaced by the reference data's
column names when given). A model with ``classes_`` is a classifier (``kind="class"``,
with probabilities if it has ``predict_proba``); anything else returns a number.

Also works for any object with the scikit-learn ``predict`` API (e.g. XGBoost or
LightGBM's sklearn wrappers) saved with joblib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rampup.errors import FlavorError, ModelError
from rampup.registry.flavors.base import (
    Flavor,
    Location,
    Source,
    as_records,
    class_batch,
    plain_classes,
    positional_names,
)
from rampup.registry.flavors.compiled import LinearScorer, compile_linear, probe_rows
from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.registry.schema import Feature, InputSchema, OutputSpec

EXTENSIONS = (".joblib", ".pkl", ".pickle")


def read_model(path: Path) -> Any:
    """Unpickle a model file. Runs code from the file: trusted files only."""
    import joblib

    try:
        return joblib.load(path)
    except (ModuleNotFoundError, AttributeError) as exc:
        raise ModelError(f"cannot unpickle {path.name}: {exc}",
                         fix="install the libraries (and versions) the model was saved "
                             "with, and make its classes importable") from None
    except Exception as exc:
        raise ModelError(f"cannot read {path.name} as a joblib/pickle file: "
                         f"{type(exc).__name__}: {exc}",
                         fix="save the model with joblib.dump(model, 'model.joblib')") from None


def _steps(est: Any) -> list[Any]:
    steps = getattr(est, "steps", None)
    return [s[1] for s in steps] if isinstance(steps, list) else [est]


def _column_hints(est: Any) -> dict[str, Feature]:
    """Types a fitted pipeline reveals about its raw input columns.

    A column routed (by name, through a ColumnTransformer) to an encoder whose
    ``categories_`` are strings or booleans is typed ``str``/``bool`` with those
    categories; a column passing through an imputer is nullable.
    """
    first = _steps(est)[0]
    if hasattr(first, "categories_") and hasattr(first, "feature_names_in_"):
        routes = [(first, list(first.feature_names_in_))]
    else:
        routes = [(t, cols) for _, t, cols in getattr(first, "transformers_", [])
                  if not isinstance(t, str)]
    hints: dict[str, Feature] = {}
    for trans, cols in routes:
        if not (isinstance(cols, list | tuple | np.ndarray) and all(
                isinstance(c, str) for c in cols)):
            continue
        steps = _steps(trans)
        imputers = [s for s in steps if type(s).__name__.endswith("Imputer")]
        fills = {getattr(s, "fill_value", None) for s in imputers
                 if getattr(s, "strategy", None) == "constant"}
        cats = next((s.categories_ for s in steps if hasattr(s, "categories_")), None)
        for i, col in enumerate(cols):
            values = (np.asarray(cats[i]).tolist()
                      if cats is not None and len(cats) == len(cols) else [])
            seen = [v for v in values if isinstance(v, str | bool) and v not in fills]
            if seen and all(isinstance(v, bool) for v in seen):
                hints[col] = Feature(col, "bool", nullable=bool(imputers))
            elif seen and all(isinstance(v, str) for v in seen):
                hints[col] = Feature(col, "str", nullable=bool(imputers),
                                     categories=tuple(map(str, seen)))
            elif imputers:
                hints[col] = Feature(col, "float", nullable=True)
    return hints


def inspect_estimator(model: Any) -> tuple[InputSchema | None, OutputSpec]:
    """Schema and output of a fitted estimator (see the module docstring)."""
    if not callable(getattr(model, "predict", None)):
        raise FlavorError(f"the artifact holds a {type(model).__name__}, which has no predict()",
                          fix="save a fitted estimator or Pipeline")
    schema: InputSchema | None = None
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        hints = _column_hints(model)
        schema = InputSchema([hints.get(str(n), Feature(str(n), "float")) for n in names])
    else:
        n = getattr(model, "n_features_in_", None)
        if isinstance(n, int | np.integer):
            schema = InputSchema([Feature(n_, "float") for n_ in positional_names(int(n))])
    classes = getattr(model, "classes_", None)
    if classes is not None:
        output = OutputSpec("class", plain_classes(classes),
                            has_probabilities=hasattr(model, "predict_proba"))
    else:
        output = OutputSpec("number")
    return schema, output


class SklearnPredictor:
    """A fitted estimator behind the Predictor protocol (thread-safe, like sklearn)."""

    def __init__(self, model: Any, schema: InputSchema, output: OutputSpec,
                 flavor: str = "sklearn") -> None:
        self.model = model
        self.flavor = flavor
        self.input_schema = schema
        self.output = output
        names = getattr(model, "feature_names_in_", None)
        self._frame_columns = [str(n) for n in names] if names is not None else None
        self._numeric = all(f.dtype != "str" for f in schema.features)
        # All-float inputs become one float block (much cheaper than a column-wise frame).
        self._float_block = all(f.dtype == "float" for f in schema.features)
        self._proba = output.has_probabilities and hasattr(model, "predict_proba")
        self._argmax = self._proba and _predict_is_argmax(model)
        classes = getattr(model, "classes_", None)
        self._classes = np.asarray(classes) if classes is not None else None
        # A model fitted on an all-float DataFrame answers the same on the float block
        # itself, several times faster (no frame, no column checks); used only when a
        # probe at load time shows the same outputs (see numpy_twin).
        self._twin = (numpy_twin(model, len(self._frame_columns), self._proba)
                      if self._frame_columns is not None and self._float_block else None)
        # A linear model scored by its own arithmetic when a probe shows the answers bit
        # for bit equal (rampup.registry.flavors.compiled); None: the estimator's methods.
        # (a classifier only when its predict() is the argmax: the one way it is used)
        block = self._twin if self._twin is not None else (
            model if self._frame_columns is None and self._float_block else None)
        self.compiled: LinearScorer | None = (
            compile_linear(block, len(schema.features), self._proba)
            if block is not None and (self._argmax or not self._proba) else None)

    def _inputs(self, batch: FeatureBatch) -> Any:
        cols = self._frame_columns
        if cols is not None:
            if self._float_block and set(cols) <= set(batch.columns):
                if self._twin is not None:
                    return batch.to_numpy(cols)
                import pandas as pd

                return pd.DataFrame(batch.to_numpy(cols), columns=cols)
            frame = batch.to_frame()
            return frame if list(frame.columns) == cols else frame[cols]
        names = self.input_schema.names
        return batch.to_numpy(names, np.float64 if self._numeric else object)

    def predict(self, batch: FeatureBatch) -> PredictionBatch:
        x = self._inputs(batch)
        scorer = self.compiled
        if scorer is not None and isinstance(x, np.ndarray):
            if not self._proba:
                return PredictionBatch(as_records(scorer.predict(x), batch.n))
            if self._classes is not None:
                proba = scorer.predict_proba(x)
                return class_batch(self._classes[np.argmax(proba, axis=1)], proba,
                                   self.output.classes)
        model = self._twin if self._twin is not None and isinstance(x, np.ndarray) \
            else self.model
        if self._proba:
            proba = np.asarray(model.predict_proba(x))
            if self._argmax and self._classes is not None:
                # One model call: for these estimators predict() is exactly this argmax.
                preds = self._classes[np.argmax(proba, axis=1)]
            else:
                preds = model.predict(x)
            return class_batch(preds, proba, self.output.classes)
        return PredictionBatch(as_records(model.predict(x), batch.n))


def _strip_names(est: Any) -> Any | None:
    """A shallow copy of ``est`` without ``feature_names_in_`` (so scikit-learn takes a
    NumPy block without a feature-name warning), or None for a step that routes columns
    by name (a ColumnTransformer, a nested step we do not know)."""
    import copy

    if isinstance(est, str) or est is None:  # "passthrough" / "drop" steps
        return est
    if hasattr(est, "transformers") or hasattr(est, "transformer_list"):
        return None  # selects columns by name: needs the DataFrame
    twin = copy.copy(est)
    steps = getattr(est, "steps", None)
    if isinstance(steps, list):
        inner = [(name, _strip_names(step)) for name, step in steps]
        if any(step is None and orig is not None for (_, step), (_, orig) in
               zip(inner, steps, strict=True)):
            return None
        twin.steps = inner
        return twin
    if "feature_names_in_" in vars(twin):
        del twin.feature_names_in_
    return twin


def numpy_twin(model: Any, n_features: int, proba: bool) -> Any | None:
    """A copy of a model fitted on an all-float DataFrame that takes the same values as
    a NumPy block in ``feature_names_in_`` order, or None when that is not shown safe.

    The copy shares the fitted arrays (no memory cost). It is used only if, on the seeded
    probe rows (:func:`~rampup.registry.flavors.compiled.probe_rows`), it answers like the
    original on the DataFrame (same classes, probabilities within 1e-9) without any
    warning; anything else keeps the DataFrame.
    """
    import warnings

    import pandas as pd

    twin = _strip_names(model)
    if twin is None:
        return None
    names = [str(n) for n in model.feature_names_in_]
    probe = probe_rows(n_features)
    frame = pd.DataFrame(probe.copy(), columns=names)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if proba:
                same = np.allclose(np.asarray(model.predict_proba(frame), dtype=float),
                                   np.asarray(twin.predict_proba(probe), dtype=float),
                                   rtol=1e-9, atol=1e-12, equal_nan=True)
            else:
                same = True
            a, b = np.asarray(model.predict(frame)), np.asarray(twin.predict(probe))
            same = same and a.shape == b.shape and (
                bool(np.array_equal(a, b)) if a.dtype.kind not in "fc"
                else bool(np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)))
    except Exception:
        return None
    return twin if same and not caught else None


# Final estimators whose predict() is classes_[argmax(predict_proba())], ties included.
# (Not SVC(probability=True): its probabilities come from a separate Platt fit.)
_ARGMAX_ESTIMATORS = frozenset({
    "LogisticRegression", "LogisticRegressionCV", "SGDClassifier", "DecisionTreeClassifier",
    "RandomForestClassifier", "ExtraTreesClassifier", "ExtraTreeClassifier",
    "GradientBoostingClassifier", "HistGradientBoostingClassifier", "KNeighborsClassifier",
    "GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB", "CategoricalNB",
    "MLPClassifier", "LinearDiscriminantAnalysis", "QuadraticDiscriminantAnalysis",
})


def _predict_is_argmax(model: Any) -> bool:
    final = model
    while hasattr(final, "steps"):  # Pipeline (possibly nested)
        final = final.steps[-1][1]
    return type(final).__name__ in _ARGMAX_ESTIMATORS


class SklearnFlavor(Flavor):
    name = "sklearn"

    def detect(self, source: Source) -> bool:
        p = Path(source)
        return p.suffix.lower() in EXTENSIONS and not p.is_dir()

    def inspect(self, path: Location) -> tuple[InputSchema | None, OutputSpec]:
        return inspect_estimator(read_model(Path(path)))

    def load(self, path: Location, schema: InputSchema, output: OutputSpec) -> SklearnPredictor:
        return SklearnPredictor(read_model(Path(path)), schema, output)

    def library_versions(self) -> dict[str, str]:
        import joblib
        import sklearn

        return {"scikit-learn": sklearn.__version__, "joblib": joblib.__version__,
                "numpy": np.__version__}
