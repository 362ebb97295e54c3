"""Train/dev/test splits stratified jointly on the label and slice columns, group-aware.

Every combination of label and slice values (a *stratum*) is split in the requested
ratios on its own, so each slice keeps its share in every split — rare slices included.
Within a stratum the rows (or groups) are shuffled and laid along a circle of
circumference 1, each at the middle of its own arc (arc length = its share of the
stratum); the circle is turned by a random offset and cut at the cumulative ratios. Each
split then gets its exact share of every stratum to within one row (one group), and
rounding does not favour any split.

With ``groups`` (e.g. a user id), whole groups are assigned, so no group appears in two
splits; a group is stratified by its most common stratum and weighted by its size.

>>> y = np.array([0] * 50 + [1] * 50)
>>> region = np.array(["north", "south"] * 50)
>>> s = stratified_split(y, strata={"region": region}, ratios=(0.6, 0.2, 0.2), seed=0)
>>> s.sizes()
{'train': 60, 'dev': 20, 'test': 20}
>>> [int(((s.assignment == 1) & (y == 1) & (region == "south")).sum())]  # 25 rows x 0.2
[5]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rampup.analysis.report import Report
from rampup.errors import ValidationError

Arr = np.ndarray[Any, Any]
DEFAULT_NAMES = {2: ("train", "test"), 3: ("train", "dev", "test")}


def parse_ratios(text: str | Sequence[float]) -> tuple[float, ...]:
    """``"60,20,20"`` or ``(0.6, 0.2, 0.2)`` → shares that sum to 1.

    >>> parse_ratios("60,20,20"), parse_ratios([3, 1])
    ((0.6, 0.2, 0.2), (0.75, 0.25))
    """
    try:
        values = [float(x) for x in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise ValidationError(f"ratios {text!r} are not numbers",
                              fix="write them like 60,20,20") from None
    if len(values) < 2 or any(not np.isfinite(v) or v <= 0 for v in values):
        raise ValidationError(f"ratios {text!r} must be two or more positive numbers",
                              fix="write them like 60,20,20 (train, dev, test)")
    total = sum(values)
    return tuple(v / total for v in values)


def _codes(values: Any) -> Arr:
    codes, _ = pd.factorize(pd.Series(np.asarray(values, dtype=object)), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64)


def joint_codes(columns: Sequence[Any]) -> Arr:
    """One code per distinct combination of the columns' values (missing is a value)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        c = _codes(col)
        key = _codes(key * (int(c.max()) + 1 if len(c) else 1) + c)
    return key


@dataclass
class Split:
    """``assignment[i]`` is the index in ``names`` of row ``i``'s split."""

    names: tuple[str, ...]
    ratios: tuple[float, ...]
    assignment: Arr

    def mask(self, name: str) -> Arr:
        if name not in self.names:
            raise ValidationError(f"no split named {name!r}", fix=f"use one of {self.names}")
        out: Arr = self.assignment == self.names.index(name)
        return out

    def sizes(self) -> dict[str, int]:
        counts = np.bincount(self.assignment, minlength=len(self.names))
        return {n: int(c) for n, c in zip(self.names, counts, strict=True)}


def _group_strata(groups: Arr, key: Arr) -> tuple[Arr, Arr, Arr]:
    """Per group: its most common stratum and its size; and each row's group index."""
    g = _codes(groups)
    n_groups = int(g.max()) + 1 if len(g) else 0
    pair, counts = np.unique(g * (int(key.max()) + 1) + key, return_counts=True)
    pg, pk = pair // (int(key.max()) + 1), pair % (int(key.max()) + 1)
    order = np.lexsort((-counts, pg))  # by group, most frequent stratum first
    first = np.ones(len(order), dtype=bool)
    first[1:] = pg[order][1:] != pg[order][:-1]
    mode = np.empty(n_groups, dtype=np.int64)
    mode[pg[order][first]] = pk[order][first]
    return mode, np.bincount(g, minlength=n_groups), g


def stratified_split(labels: Any, *, strata: Mapping[str, Any] | None = None,
                     groups: Any = None, ratios: Sequence[float] = (0.6, 0.2, 0.2),
                     names: Sequence[str] | None = None,
                     seed: int | np.random.Generator = 0) -> Split:
    """Split rows in ``ratios``, stratified on ``labels`` and every ``strata`` column."""
    n = len(labels)
    shares = parse_ratios(ratios)
    split_names = tuple(names) if names is not None else DEFAULT_NAMES.get(
        len(shares), tuple(f"split{i}" for i in range(len(shares))))
    if len(split_names) != len(shares) or len(set(split_names)) != len(split_names):
        raise ValidationError(f"{len(shares)} ratios need as many distinct names, got "
                              f"{list(split_names)}", fix="give one name per ratio")
    columns = [labels, *(strata or {}).values()]
    for name, col in (strata or {}).items():
        if len(col) != n:
            raise ValidationError(f"slice column {name!r} has {len(col)} values for {n} rows",
                                  fix="give one value per row")
    if n == 0:
        return Split(split_names, shares, np.zeros(0, dtype=np.int64))
    key = joint_codes(columns)
    if groups is None:
        unit_key, weight, row_unit = key, np.ones(n, dtype=np.int64), np.arange(n)
    else:
        if len(groups) != n:
            raise ValidationError(f"groups has {len(groups)} values for {n} rows",
                                  fix="give one group id per row")
        unit_key, weight, row_unit = _group_strata(np.asarray(groups, dtype=object), key)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(unit_key)), unit_key))
    k, w = unit_key[order], weight[order].astype(np.float64)
    total = np.bincount(k, weights=w)
    cum = np.cumsum(w)
    start = np.concatenate([[0.0], np.cumsum(total)[:-1]])
    middle = (cum - start[k] - w / 2) / total[k]
    offset = rng.random(len(total))
    position = (middle + offset[k]) % 1.0
    unit_split = np.empty(len(unit_key), dtype=np.int64)
    unit_split[order] = np.searchsorted(np.cumsum(shares)[:-1], position, side="right")
    return Split(split_names, shares, unit_split[row_unit])


@dataclass
class SliceShare:
    column: str
    value: str
    n: int
    share: float  # of all rows
    counts: dict[str, int]  # rows per split
    share_in: dict[str, float]  # the slice's share of each split
    fraction_to: dict[str, float]  # share of the slice's rows that went to each split


@dataclass
class SplitReport:
    sizes: dict[str, int]
    ratios: dict[str, float]
    groups: int | None = None
    rows: list[SliceShare] = field(default_factory=list)

    def max_deviation(self) -> float:
        """Largest gap between a slice's share of a split and its share of all rows."""
        return max((abs(r.share_in[s] - r.share) for r in self.rows for s in self.sizes
                    if self.sizes[s]), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"sizes": self.sizes, "ratios": self.ratios, "groups": self.groups,
                "max_deviation": self.max_deviation(),
                "slices": [r.__dict__ for r in self.rows]}


def split_report(split: Split, columns: Mapping[str, Any], *,
                 groups: Any = None) -> SplitReport:
    """Each slice's share per split (``columns``: name → values, e.g. label and slices)."""
    sizes = split.sizes()
    k = len(split.names)
    report = SplitReport(sizes, dict(zip(split.names, split.ratios, strict=True)),
                         None if groups is None else len(pd.unique(np.asarray(groups,
                                                                              dtype=object))))
    n = len(split.assignment)
    size_arr = np.array([sizes[s] for s in split.names], dtype=np.float64)
    for name, values in columns.items():
        codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object)),
                                      use_na_sentinel=False, sort=False)
        table = np.bincount(codes * k + split.assignment,
                            minlength=len(uniques) * k).reshape(len(uniques), k)
        for j, value in enumerate(uniques):
            row = table[j]
            total = int(row.sum())
            report.rows.append(SliceShare(
                column=name, value="(missing)" if pd.isna(value) else str(value), n=total,
                share=total / n if n else 0.0,
                counts={s: int(c) for s, c in zip(split.names, row, strict=True)},
                share_in={s: float(c / sz) if sz else 0.0
                          for s, c, sz in zip(split.names, row, size_arr, strict=True)},
                fraction_to={s: float(c / total) if total else 0.0
                             for s, c in zip(split.names, row, strict=True)}))
    return report


def split_document(report: SplitReport, *, meta: dict[str, Any] | None = None) -> Report:
    """The split report as a :class:`~rampup.analysis.report.Report`."""
    doc = Report("Train/dev/test split", meta=dict(meta or {}), data={"split": report.to_dict()})
    names = list(report.sizes)
    total = sum(report.sizes.values()) or 1
    sizes = doc.section("Sizes").table(
        ["split", "rows", "share %", "asked %"],
        [[s, report.sizes[s], 100 * report.sizes[s] / total, 100 * report.ratios[s]]
         for s in names])
    if report.groups is not None:
        sizes.text(f"{report.groups} groups, each in exactly one split.")
    doc.section("Each slice's share of each split").table(
        ["column", "value", "n", "all %", *(f"{s} %" for s in names)],
        [[r.column, r.value, r.n, 100 * r.share, *(100 * r.share_in[s] for s in names)]
         for r in report.rows],
        note=f"largest difference from a slice's overall share: "
             f"{100 * report.max_deviation():.2f} points")
    return doc
