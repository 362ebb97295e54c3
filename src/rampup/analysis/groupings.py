"""How rows fall into slices: by feature value, by bin, by tag, by boolean expression.

A :class:`Grouping` is either a *partition* (every row in exactly one slice, held as one
integer code per row) or a set of possibly *overlapping* slices (one boolean mask per
slice, e.g. tags). Builders turn columns into groupings; :func:`from_frame` reads the
``--slice`` specs of the CLI.

>>> df = pd.DataFrame({"city": ["oslo", "rome", None, "oslo"], "age": [20, 70, 45, 33]})
>>> g = by_values(df["city"])
>>> g.name, g.labels, g.codes.tolist()
('city', ('oslo', 'rome', '(missing)'), [0, 1, 2, 0])
>>> by_bins(df["age"], [0, 40, 100]).labels
('(0, 40]', '(40, 100]')
>>> e = by_expressions(df, ["age > 40"])
>>> e.labels, e.masks.tolist()
(('age > 40',), [[False, True, True, False]])
>>> [x.name for x in from_frame(df, ["city", "age:2", "age >= 70"])]
['city', 'age', 'age >= 70']
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from rampup.analysis.confusion import small_int_codes
from rampup.errors import ValidationError

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MISSING = "(missing)"
_BINS_SPEC = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*:\s*(\d+)\s*$")


@dataclass(frozen=True, eq=False)
class Grouping:
    """Named slices of ``n_rows`` rows: ``codes`` (partition, -1 = no slice) or ``masks``
    (``(n_slices, n_rows)`` booleans, slices may overlap)."""

    name: str
    labels: tuple[str, ...]
    codes: IntArray | None = None
    masks: BoolArray | None = None

    def __post_init__(self) -> None:
        if (self.codes is None) == (self.masks is None):
            raise ValidationError("a grouping needs codes or masks, not both",
                                  fix="build it with by_values, by_bins, by_tags or "
                                      "by_expressions")
        if self.masks is not None and self.masks.shape[0] != len(self.labels):
            raise ValidationError(f"{self.masks.shape[0]} masks for {len(self.labels)} labels",
                                  fix="give one label per mask")

    @property
    def overlapping(self) -> bool:
        return self.masks is not None

    @property
    def n_rows(self) -> int:
        return len(self.codes) if self.codes is not None else int(
            self.masks.shape[1])  # type: ignore[union-attr]

    def mask(self, i: int) -> BoolArray:
        """The rows of slice ``i``."""
        if self.masks is not None:
            return np.asarray(self.masks[i], dtype=bool)
        return np.asarray(self.codes == i, dtype=bool)


def _label(v: Any) -> str:
    return str(v.item() if isinstance(v, np.generic) else v)


def by_values(values: Any, name: str | None = None) -> Grouping:
    """One slice per distinct value (sorted); missing values form the slice ``(missing)``."""
    name = name if name is not None else str(getattr(values, "name", None) or "group")
    arr = values if isinstance(values, pd.Series) else np.asarray(values)
    if isinstance(arr, pd.Series) and isinstance(arr.dtype, pd.CategoricalDtype):
        cats = arr.cat.categories
        raw = arr.cat.codes.to_numpy()
        fast = small_int_codes(np.where(raw < 0, len(cats), raw))
        assert fast is not None  # small non-negative integers
        labels = [_label(cats[u]) if u < len(cats) else MISSING for u in fast[1]]
        return Grouping(name, tuple(labels), codes=fast[0])
    fast = small_int_codes(arr)
    if fast is not None:
        return Grouping(name, tuple(_label(u) for u in fast[1]), codes=fast[0])
    try:
        codes, uniques = pd.factorize(arr, sort=True, use_na_sentinel=True)
    except TypeError:  # values that do not compare: keep them in text order
        codes, uniques = pd.factorize(arr, sort=False, use_na_sentinel=True)
        order = np.argsort([_label(u) for u in uniques], kind="stable")
        codes = np.where(codes >= 0, np.argsort(order)[np.maximum(codes, 0)], -1)
        uniques = np.asarray(uniques, dtype=object)[order]
    labels = [_label(u) for u in uniques]
    codes = codes.astype(np.int64, copy=False)
    if len(codes) and codes.min() < 0:
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING)
    return Grouping(name, tuple(labels), codes=codes)


def by_bins(values: Any, bins: int | Sequence[float], name: str | None = None, *,
            quantile: bool = False) -> Grouping:
    """Slices by bin of a numeric column: ``pd.cut`` (``bins`` edges or a count of equal
    widths) or, with ``quantile``, ``pd.qcut`` into ``bins`` equal-count bins."""
    name = name if name is not None else str(getattr(values, "name", None) or "bin")
    try:
        s = pd.to_numeric(pd.Series(values), errors="raise")
        cut = (pd.qcut(s, bins, duplicates="drop") if quantile and isinstance(bins, int)
               else pd.cut(s, bins))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"cannot bin {name!r}: {exc}",
                              fix="bin a numeric column, or slice it by value") from None
    cat = pd.Categorical(cut)
    labels = [_label(c) for c in cat.categories]
    codes = np.asarray(cat.codes, dtype=np.int64)
    if len(codes) and codes.min() < 0:
        codes = np.where(codes < 0, len(labels), codes)
        labels.append(MISSING)
    return Grouping(name, tuple(labels), codes=codes)


def _bool_mask(values: Any, what: str) -> BoolArray:
    s = pd.Series(values)
    if s.dtype == object or pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(
            s.dtype):
        filled = s.astype(object).where(s.notna(), False)
        uniq = set(pd.unique(filled))
        if uniq <= {True, False}:  # 0 and 1 compare equal to these
            return np.asarray(filled.astype(bool), dtype=bool)
    raise ValidationError(f"{what} is not a boolean column (true/false or 1/0)",
                          fix="tags must be boolean columns; slice other columns by value")


def by_tags(tags: pd.DataFrame | Mapping[str, Any], name: str = "tags") -> Grouping:
    """One slice per boolean column (tag); a row may carry several tags or none."""
    items = list(tags.items())
    if not items:
        raise ValidationError("no tag columns given", fix="pass at least one boolean column")
    masks = np.vstack([_bool_mask(v, f"tag {k!r}") for k, v in items])
    return Grouping(name, tuple(str(k) for k, _ in items), masks=masks)


def _eval(frame: pd.DataFrame, expr: str) -> BoolArray:
    try:
        out = frame.eval(expr)
    except Exception as exc:  # pandas raises many types for a bad expression
        raise ValidationError(f"cannot evaluate slice expression {expr!r}: {exc}",
                              fix="use column names and comparisons, e.g. "
                                  "\"age >= 60 and city == 'oslo'\"") from None
    if not isinstance(out, pd.Series) or len(out) != len(frame):
        raise ValidationError(f"slice expression {expr!r} does not give one value per row",
                              fix="write a condition on columns, e.g. 'age >= 60'")
    return _bool_mask(out, f"slice expression {expr!r}")


def by_expressions(frame: pd.DataFrame, expressions: Sequence[str] | Mapping[str, str],
                   name: str | None = None) -> Grouping:
    """One slice per boolean expression over the frame's columns (``DataFrame.eval``)."""
    named = dict(expressions) if isinstance(expressions, Mapping) else {
        e: e for e in expressions}
    if not named:
        raise ValidationError("no slice expressions given", fix="pass at least one")
    masks = np.vstack([_eval(frame, e) for e in named.values()])
    label = name if name is not None else (next(iter(named)) if len(named) == 1
                                           else "expressions")
    return Grouping(label, tuple(named), masks=masks)


def from_frame(frame: pd.DataFrame, specs: Sequence[str], *, max_levels: int = 20,
               n_bins: int = 5) -> list[Grouping]:
    """Groupings from CLI-style specs: ``col`` (by value; a numeric column with more than
    ``max_levels`` values is cut into ``n_bins`` quantile bins), ``col:N`` (N quantile
    bins), anything else a boolean expression (``"age >= 60"``)."""
    out: list[Grouping] = []
    for spec in specs:
        m = _BINS_SPEC.match(spec)
        if m and m.group(1) in frame.columns:
            out.append(by_bins(frame[m.group(1)], int(m.group(2)), m.group(1), quantile=True))
        elif spec in frame.columns:
            col = frame[spec]
            numeric = pd.api.types.is_numeric_dtype(col.dtype) and not \
                pd.api.types.is_bool_dtype(col.dtype)
            if numeric and col.nunique() > max_levels:
                out.append(by_bins(col, n_bins, spec, quantile=True))
            else:
                out.append(by_values(col, spec))
        else:
            out.append(by_expressions(frame, [spec]))
    return out


def as_groupings(groups: Any, n_rows: int) -> list[Grouping]:
    """Accept a Grouping, a list of them, a boolean DataFrame (tags) or a column of values."""
    if isinstance(groups, Grouping):
        found = [groups]
    elif isinstance(groups, list | tuple) and groups and all(
            isinstance(g, Grouping) for g in groups):
        found = list(groups)
    elif isinstance(groups, pd.DataFrame):
        found = [by_tags(groups)]
    else:
        found = [by_values(groups)]
    for g in found:
        if g.n_rows != n_rows:
            raise ValidationError(f"grouping {g.name!r} has {g.n_rows} rows but the data has "
                                  f"{n_rows}", fix="build groupings from the same rows")
    return found
