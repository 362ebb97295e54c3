"""When a review item is decided: enough labels and a strict majority.

Pure. An item needs ``needed`` labels; then the most frequent label wins if more than
half of the labels agree on it. Without such a majority the item is *disputed*: it is
flagged for adjudication and stays open, so one more reviewer (or an adjudicator)
breaks the tie. A winning explicit uncertain label closes the item as ``uncertain``
(no label is written for the prediction: nobody could tell).

>>> resolve(["cat"], 1, "uncertain")
('decided', 'cat')
>>> resolve(["cat"], 2, "uncertain")
('open', None)
>>> resolve(["cat", "dog"], 2, "uncertain")
('disputed', None)
>>> resolve(["cat", "dog", "cat"], 2, "uncertain")
('decided', 'cat')
>>> resolve(["uncertain", "uncertain"], 2, "uncertain")
('uncertain', 'uncertain')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson


def label_key(label: Any) -> bytes:
    """Labels compare by their JSON text (1 and "1" differ; 1 and True differ)."""
    return orjson.dumps(label)


def resolve(labels: Sequence[Any], needed: int, uncertain: str | None) -> tuple[str, Any]:
    """The item's status after ``labels``: open, disputed, decided or uncertain, and the
    final label (None unless decided/uncertain)."""
    if len(labels) < needed:
        return "open", None
    counts: dict[bytes, int] = {}
    first: dict[bytes, Any] = {}
    for lab in labels:
        k = label_key(lab)
        counts[k] = counts.get(k, 0) + 1
        first.setdefault(k, lab)
    top = max(counts, key=lambda k: counts[k])
    if counts[top] * 2 <= len(labels):
        return "disputed", None
    final = first[top]
    if uncertain is not None and final == uncertain:
        return "uncertain", final
    return "decided", final


def match_choice(label: Any, choices: Sequence[Any] | None) -> Any:
    """The allowed choice equal to ``label`` (also by its text, so a CLI's "1" finds the
    class 1); ``label`` itself when free-form; raises ``LookupError`` when not allowed.

    >>> match_choice("1", [0, 1, "uncertain"])
    1
    >>> match_choice("x", None)
    'x'
    """
    if choices is None:
        return label
    for c in choices:
        if label_key(c) == label_key(label):
            return c
    for c in choices:
        if str(c) == str(label) or (isinstance(c, bool) and str(c).lower() == str(label)):
            return c
    raise LookupError(label)
