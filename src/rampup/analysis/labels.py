"""Label consistency: how far several annotators agree, and how well a human does.

Input is long format — one row per rating: ``item``, ``annotator``, ``label`` — as
arrays. Missing labels (``None``/``NaN``) are dropped, so not every annotator has to
rate every item. An explicit "uncertain"/"unintelligible" label is a category like any
other (annotators who agree an item is unintelligible agree); it is counted separately
in :func:`uncertain_share`, and :meth:`Ratings.from_long` can treat it as missing.

Everything here is a pure function of a :class:`Ratings` or of its item x category
count matrix (``counts[i, c]`` = how many annotators gave item ``i`` category ``c``), so
the human review queue can reuse the same functions on its own arrays.

>>> r = Ratings.from_long(items=[1, 1, 2, 2, 3, 3], annotators=["a", "b"] * 3,
...                       labels=["cat", "cat", "dog", "cat", "dog", "dog"])
>>> round(percent_agreement(r.counts()), 3)
0.667
>>> round(cohen_kappa(*r.pair("a", "b")), 3)
0.4
>>> round(krippendorff_alpha(r.counts()), 3)
0.444
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rampup.analysis.report import Report
from rampup.errors import ValidationError

Arr = np.ndarray[Any, Any]

UNCERTAIN_LABELS: tuple[str, ...] = ("uncertain", "unintelligible")


@dataclass(frozen=True)
class Ratings:
    """Ratings encoded as integer codes: ``item[k]``, ``annotator[k]``, ``label[k]`` index
    ``item_ids``, ``annotator_ids`` and ``categories``; ``row[k]`` is the rating's row in
    the input (missing labels are dropped, so rows may be skipped)."""

    item_ids: Arr
    annotator_ids: Arr
    categories: Arr
    item: Arr
    annotator: Arr
    label: Arr
    row: Arr

    @classmethod
    def from_long(cls, items: Sequence[Any] | Arr, annotators: Sequence[Any] | Arr,
                  labels: Sequence[Any] | Arr, *,
                  missing: Collection[Any] = ()) -> Ratings:
        """Encode long-format ratings. Labels in ``missing`` count as not rated.

        Raises ValidationError when the arrays differ in length or an annotator rated
        the same item twice.
        """
        n = len(items)
        if len(annotators) != n or len(labels) != n:
            raise ValidationError(
                f"items, annotators and labels differ in length ({n}, {len(annotators)}, "
                f"{len(labels)})", fix="pass one item, annotator and label per rating")
        lab = pd.Series(np.asarray(labels, dtype=object))
        keep = lab.notna().to_numpy().copy()
        if missing:
            keep &= ~lab.isin(list(missing)).to_numpy()
        row = np.flatnonzero(keep)
        item, item_ids = pd.factorize(np.asarray(items, dtype=object)[row], sort=True)
        ann, ann_ids = pd.factorize(np.asarray(annotators, dtype=object)[row], sort=True)
        label, cats = pd.factorize(lab.to_numpy()[row], sort=True)
        pair = item.astype(np.int64) * max(len(ann_ids), 1) + ann
        uniq, first, count = np.unique(pair, return_index=True, return_counts=True)
        if len(uniq) < len(pair):
            k = first[np.argmax(count > 1)]
            raise ValidationError(
                f"annotator {ann_ids[ann[k]]!r} rated item {item_ids[item[k]]!r} more than once",
                fix="keep one label per item and annotator (e.g. the latest)")
        return cls(np.asarray(item_ids, dtype=object), np.asarray(ann_ids, dtype=object),
                   np.asarray(cats, dtype=object), item.astype(np.int64),
                   ann.astype(np.int64), label.astype(np.int64), row)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_categories(self) -> int:
        return len(self.categories)

    def counts(self) -> Arr:
        """Item x category matrix of how many annotators chose each category."""
        out = np.zeros((self.n_items, self.n_categories), dtype=np.int64)
        np.add.at(out, (self.item, self.label), 1)
        return out

    def matrix(self) -> Arr:
        """Item x annotator matrix of category codes, -1 where not rated."""
        out = np.full((self.n_items, len(self.annotator_ids)), -1, dtype=np.int64)
        out[self.item, self.annotator] = self.label
        return out

    def pair(self, a: Any, b: Any) -> tuple[Arr, Arr]:
        """Labels of annotators ``a`` and ``b`` on the items both rated."""
        ids = list(self.annotator_ids)
        for who in (a, b):
            if who not in ids:
                raise ValidationError(f"no ratings by annotator {who!r}",
                                      fix=f"use one of {', '.join(map(str, ids))}")
        m = self.matrix()
        la, lb = m[:, ids.index(a)], m[:, ids.index(b)]
        both = (la >= 0) & (lb >= 0)
        return self.categories[la[both]], self.categories[lb[both]]


def _pairable(counts: Arr) -> Arr:
    """Rows of items with at least two ratings (the only ones that can show agreement)."""
    c: Arr = np.asarray(counts, dtype=np.float64)
    out: Arr = c[c.sum(axis=1) >= 2]
    return out


def item_agreement(counts: Arr) -> Arr:
    """Per item: the share of annotator pairs that agree (NaN with fewer than two ratings)."""
    c = np.asarray(counts, dtype=np.float64)
    n = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n >= 2, (c * (c - 1)).sum(axis=1) / (n * (n - 1)), np.nan)


def percent_agreement(counts: Arr) -> float:
    """Mean over items (with two or more ratings) of the share of agreeing annotator pairs.

    >>> percent_agreement(np.array([[2, 0], [1, 1], [3, 0]]))
    0.6666666666666666
    """
    a = item_agreement(counts)
    a = a[~np.isnan(a)]
    return float(a.mean()) if len(a) else float("nan")


def cohen_kappa(a: Sequence[Any] | Arr, b: Sequence[Any] | Arr) -> float:
    """Cohen's kappa of two annotators' labels on the same items (as sklearn computes it).

    >>> cohen_kappa(["x", "x", "y", "y"], ["x", "y", "y", "y"])
    0.5
    """
    if len(a) != len(b):
        raise ValidationError(f"the two label arrays differ in length ({len(a)} vs {len(b)})",
                              fix="pass the two annotators' labels on the same items")
    codes, _ = pd.factorize(np.concatenate([np.asarray(a, dtype=object),
                                            np.asarray(b, dtype=object)]))
    n = len(a)
    k = int(codes.max()) + 1 if n else 0
    table = np.zeros((k, k), dtype=np.float64)
    np.add.at(table, (codes[:n], codes[n:]), 1)
    if n == 0:
        return float("nan")
    po = np.trace(table) / n
    pe = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    return 1.0 if pe == 1 else float((po - pe) / (1 - pe))


def fleiss_kappa(counts: Arr) -> float:
    """Fleiss' kappa from an item x category count matrix.

    Items may have different numbers of ratings: each item's agreement uses its own
    count, category shares pool all ratings (with a constant count this is Fleiss'
    1971 statistic exactly). Items with fewer than two ratings are left out.
    """
    c = _pairable(counts)
    if len(c) == 0:
        return float("nan")
    p_bar = float(np.mean(item_agreement(c)))
    p = c.sum(axis=0) / c.sum()
    pe = float(p @ p)
    return 1.0 if pe == 1 else (p_bar - pe) / (1 - pe)


def fleiss_category_kappas(counts: Arr) -> Arr:
    """Fleiss' kappa of each category against the rest (Fleiss 1971, eq. 15)."""
    c = _pairable(counts)
    n = c.sum(axis=1, keepdims=True)
    p = c.sum(axis=0) / c.sum()
    disagree = (c * (n - c) / (n - 1)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Arr = 1 - disagree / (n.sum() * p * (1 - p))
    return out


def krippendorff_alpha(counts: Arr) -> float:
    """Krippendorff's alpha for nominal data from an item x category count matrix.

    Missing ratings are simply absent from the counts; items with fewer than two
    ratings carry no pairable values and are left out (Krippendorff 2011).
    """
    c = _pairable(counts)
    o = coincidences(c)
    n_c = o.sum(axis=0)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    observed = n - np.trace(o)
    expected = (n * n - n_c @ n_c) / (n - 1)
    return 1.0 if expected == 0 else float(1 - observed / expected)


def coincidences(counts: Arr) -> Arr:
    """Krippendorff's coincidence matrix: pairs of values within items, weighted 1/(m-1)."""
    c = _pairable(counts)
    w = c / (c.sum(axis=1, keepdims=True) - 1)
    out: Arr = w.T @ c - np.diag(w.sum(axis=0))
    return out


def annotator_confusion(counts: Arr) -> Arr:
    """Category x category counts of ordered annotator pairs on the same item.

    ``out[c, k]`` is how often one annotator said ``c`` where another said ``k``; the
    matrix is symmetric and its diagonal counts agreeing pairs.

    >>> annotator_confusion(np.array([[2, 1], [0, 2]])).tolist()
    [[2, 2], [2, 2]]
    """
    c = np.asarray(counts, dtype=np.int64)
    out: Arr = c.T @ c - np.diag(c.sum(axis=0))
    return out


def specific_agreement(counts: Arr) -> Arr:
    """Per category: of the annotator pairs where one said it, the share where both did."""
    conf = annotator_confusion(counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: Arr = np.diag(conf) / conf.sum(axis=1)
    return out


def uncertain_share(r: Ratings, uncertain: Collection[str] = UNCERTAIN_LABELS) -> float:
    """Share of ratings that used an explicit uncertain/unintelligible label."""
    if len(r.label) == 0:
        return float("nan")
    is_unc = np.isin(r.categories.astype(str), list(uncertain))
    return float(is_unc[r.label].mean())


def majority(counts: Arr) -> tuple[Arr, Arr]:
    """Each item's most frequent category code and whether it is a unique maximum."""
    c = np.asarray(counts)
    top = c.max(axis=1, keepdims=True)
    unique = ((c == top).sum(axis=1) == 1) & (top[:, 0] > 0)
    return c.argmax(axis=1), unique


@dataclass(frozen=True)
class DisputedItem:
    item: Any
    n_ratings: int
    agreement: float
    labels: dict[str, int]


def disputed_items(r: Ratings, top: int = 10) -> list[DisputedItem]:
    """The items annotators agreed on least (lowest pair agreement, then most ratings)."""
    c = r.counts()
    agree = item_agreement(c)
    n = c.sum(axis=1)
    rated = np.flatnonzero(~np.isnan(agree))
    order = rated[np.lexsort((-n[rated], agree[rated]))][:top]
    cats = [str(x) for x in r.categories]
    return [DisputedItem(r.item_ids[i], int(n[i]), float(agree[i]),
                         {cats[j]: int(c[i, j]) for j in np.flatnonzero(c[i])})
            for i in order if agree[i] < 1]


def reference_correct(r: Ratings, reference: Mapping[Any, Any] | None = None) -> tuple[Arr, Arr]:
    """Per rating: whether it matches the item's reference label, and whether one exists.

    With ``reference`` (item id → adjudicated label) that label is the truth. Without,
    the truth is the majority of the *other* annotators on the item (leave-one-out, so an
    annotator is never scored against their own vote); ratings whose item has no other
    rating, or whose other ratings tie, have no reference.
    """
    if reference is not None:
        # an adjudicated label nobody chose has code -1: every rating of that item is wrong
        truth = pd.Index(r.categories).get_indexer([reference.get(i) for i in r.item_ids])
        known = np.array([i in reference for i in r.item_ids], dtype=bool)[r.item]
        return known & (r.label == truth[r.item]), known
    others = r.counts()[r.item].copy()
    others[np.arange(len(r.label)), r.label] -= 1
    truth, unique = majority(others)
    return unique & (r.label == truth), unique


@dataclass
class HumanLevel:
    """Annotators' accuracy against the reference: overall, per annotator and per tag."""

    accuracy: float
    n: int
    per_annotator: dict[str, tuple[float, int]] = field(default_factory=dict)
    per_tag: dict[str, tuple[float, int]] = field(default_factory=dict)

    def error_rates(self) -> dict[str, float]:
        """Tag → human error rate (1 - accuracy), with ``"overall"``: a baseline's shape."""
        out = {"overall": 1 - self.accuracy}
        out.update({t: 1 - acc for t, (acc, _) in self.per_tag.items()})
        return out


def human_level(r: Ratings, *, reference: Mapping[Any, Any] | None = None,
                tags: Mapping[str, Arr] | None = None) -> HumanLevel:
    """Human-level performance: how often an annotator's label matches the reference.

    ``tags`` map a tag name to a boolean mask over the *input rows* (the long-format
    ratings given to :meth:`Ratings.from_long`).

    >>> r = Ratings.from_long([1, 1, 1, 2, 2, 2], list("abcabc"), list("xxyyyy"))
    >>> h = human_level(r, tags={"first": np.array([True] * 3 + [False] * 3)})
    >>> h.accuracy, h.n  # on item 1, a and b face a tie (x vs y): no reference
    (0.75, 4)
    >>> h.per_tag["first"]  # c said y where a and b said x
    (0.0, 1)
    """
    correct, known = reference_correct(r, reference)

    def acc(mask: Arr) -> tuple[float, int]:
        k = int(known[mask].sum())
        return (float(correct[mask].sum() / k) if k else float("nan")), k

    overall, n = acc(np.ones(len(correct), dtype=bool))
    per_ann = {str(a): acc(r.annotator == j) for j, a in enumerate(r.annotator_ids)}
    per_tag: dict[str, tuple[float, int]] = {}
    for name, mask in (tags or {}).items():
        m = np.asarray(mask, dtype=bool)
        per_tag[name] = acc(m[r.row])
    return HumanLevel(overall, n, per_ann, per_tag)


def pairwise_kappas(r: Ratings) -> dict[tuple[str, str], tuple[float, int]]:
    """Cohen's kappa and the number of shared items for every pair of annotators."""
    m = r.matrix()
    ids = [str(a) for a in r.annotator_ids]
    out: dict[tuple[str, str], tuple[float, int]] = {}
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            both = (m[:, i] >= 0) & (m[:, j] >= 0)
            if both.any():
                out[(ids[i], ids[j])] = (cohen_kappa(m[both, i], m[both, j]), int(both.sum()))
    return out


@dataclass
class LabelReport:
    """Everything ``rampup labels`` shows."""

    n_items: int
    n_ratings: int
    annotators: list[str]
    categories: list[str]
    percent_agreement: float
    fleiss_kappa: float
    krippendorff_alpha: float
    cohen_kappa: float | None
    pairwise: dict[tuple[str, str], tuple[float, int]]
    category_kappa: dict[str, float]
    specific_agreement: dict[str, float]
    confusion: list[list[int]]
    uncertain_share: float
    disputed: list[DisputedItem]
    human: HumanLevel

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_items": self.n_items, "n_ratings": self.n_ratings,
            "annotators": self.annotators, "categories": self.categories,
            "percent_agreement": _num(self.percent_agreement),
            "fleiss_kappa": _num(self.fleiss_kappa),
            "krippendorff_alpha": _num(self.krippendorff_alpha),
            "cohen_kappa": None if self.cohen_kappa is None else _num(self.cohen_kappa),
            "pairwise_kappa": [{"a": a, "b": b, "kappa": _num(k), "n": n}
                               for (a, b), (k, n) in self.pairwise.items()],
            "category_kappa": {k: _num(v) for k, v in self.category_kappa.items()},
            "specific_agreement": {k: _num(v) for k, v in self.specific_agreement.items()},
            "confusion": self.confusion,
            "uncertain_share": _num(self.uncertain_share),
            "disputed": [{"item": _plain(d.item), "n_ratings": d.n_ratings,
                          "agreement": d.agreement, "labels": d.labels}
                         for d in self.disputed],
            "human_level": {
                "accuracy": _num(self.human.accuracy), "n": self.human.n,
                "per_annotator": {k: {"accuracy": _num(a), "n": n}
                                  for k, (a, n) in self.human.per_annotator.items()},
                "per_tag": {k: {"accuracy": _num(a), "n": n}
                            for k, (a, n) in self.human.per_tag.items()},
            },
        }


def label_report(r: Ratings, *, reference: Mapping[Any, Any] | None = None,
                 tags: Mapping[str, Arr] | None = None, top: int = 10,
                 uncertain: Collection[str] = UNCERTAIN_LABELS) -> LabelReport:
    """All label-consistency statistics of ``r`` in one object."""
    c = r.counts()
    cats = [str(x) for x in r.categories]
    pairs = pairwise_kappas(r)
    return LabelReport(
        n_items=r.n_items, n_ratings=len(r.label),
        annotators=[str(a) for a in r.annotator_ids], categories=cats,
        percent_agreement=percent_agreement(c), fleiss_kappa=fleiss_kappa(c),
        krippendorff_alpha=krippendorff_alpha(c),
        cohen_kappa=next(iter(pairs.values()))[0] if len(r.annotator_ids) == 2 and pairs
        else None,
        pairwise=pairs,
        category_kappa=dict(zip(cats, fleiss_category_kappas(c).tolist(), strict=True)),
        specific_agreement=dict(zip(cats, specific_agreement(c).tolist(), strict=True)),
        confusion=annotator_confusion(c).tolist(),
        uncertain_share=uncertain_share(r, uncertain),
        disputed=disputed_items(r, top), human=human_level(r, reference=reference, tags=tags))


def labels_document(rep: LabelReport, *, meta: dict[str, Any] | None = None) -> Report:
    """The label report as a :class:`~rampup.analysis.report.Report`."""
    doc = Report("Label consistency", meta=dict(meta or {}), data={"labels": rep.to_dict()})
    doc.section("Agreement").items([
        ("items", rep.n_items), ("ratings", rep.n_ratings),
        ("annotators", ", ".join(rep.annotators)), ("percent agreement", rep.percent_agreement),
        ("Fleiss' kappa", rep.fleiss_kappa), ("Krippendorff's alpha (nominal)",
                                              rep.krippendorff_alpha),
        *([("Cohen's kappa", rep.cohen_kappa)] if rep.cohen_kappa is not None else []),
        ("uncertain/unintelligible share", rep.uncertain_share)])
    doc.section("Per category").table(
        ["category", "Fleiss' kappa", "specific agreement"],
        [[c, rep.category_kappa[c], rep.specific_agreement[c]] for c in rep.categories])
    doc.section("Confusion between annotators").table(
        ["", *rep.categories], [[c, *row] for c, row in zip(rep.categories, rep.confusion,
                                                             strict=True)],
        note="pairs of annotators on the same item: one said the row, the other the column")
    if len(rep.pairwise) > 1:
        doc.section("Pairs of annotators").table(
            ["annotator", "annotator", "Cohen's kappa", "shared items"],
            [[a, b, k, n] for (a, b), (k, n) in rep.pairwise.items()])
    doc.section("Most disputed items").table(
        ["item", "ratings", "agreement", "labels"],
        [[_plain(d.item), d.n_ratings, d.agreement,
          ", ".join(f"{k}: {v}" for k, v in d.labels.items())] for d in rep.disputed])
    human = doc.section("Human-level performance").items(
        [("accuracy", rep.human.accuracy), ("ratings with a reference", rep.human.n)])
    human.table(["annotator", "accuracy", "n"],
                [[a, acc, n] for a, (acc, n) in rep.human.per_annotator.items()])
    if rep.human.per_tag:
        human.table(["tag", "accuracy", "n"],
                    [[t, acc, n] for t, (acc, n) in rep.human.per_tag.items()])
    return doc


def _num(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x
