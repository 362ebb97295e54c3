"""Per-record isolation: write what can be written, hand each bad record to a callback.

:func:`write_isolated` tries the whole batch; when the store refuses it because of the
data (a ``record`` failure, see :mod:`rampup.runtime.faults`) it splits the batch in
halves and tries again, down to single records, which then go to ``on_dead``. One bad
record in a batch of ``n`` costs about ``2 log2(n)`` extra writes; the good ones are
all written. ``transient`` and ``fatal`` failures propagate, leaving the caller to
retry or to die: the write must therefore be idempotent (insert-or-ignore, upsert),
since part of a batch may already be in when a later half fails.

>>> seen: list[int] = []
>>> def write(batch):
...     if 13 in batch:
...         raise TypeError("Integer exceeds 64-bit range")
...     seen.extend(batch)
...     return len(batch)
>>> dead = []
>>> write_isolated(list(range(20)), write, lambda item, exc: dead.append(item))
19
>>> dead, sorted(seen) == [i for i in range(20) if i != 13]
([13], True)
>>> map_isolated(["1", "x", "3"], int, lambda item, exc: dead.append(item))
[1, 3]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from rampup.runtime.faults import classify

T = TypeVar("T")
R = TypeVar("R")
DeadFn = Callable[[T, BaseException], None]


def write_isolated(items: Sequence[T], write: Callable[[Sequence[T]], int],
                   on_dead: DeadFn[T]) -> int:
    """Write ``items`` with ``write`` (returns how many it stored); records the store
    refuses go to ``on_dead``. Returns the sum of what ``write`` returned."""
    if not items:
        return 0
    try:
        return write(items)
    except Exception as exc:
        if classify(exc) != "record":
            raise
        if len(items) == 1:
            on_dead(items[0], exc)
            return 0
    mid = len(items) // 2
    return (write_isolated(items[:mid], write, on_dead)
            + write_isolated(items[mid:], write, on_dead))


def map_isolated(items: Sequence[T], fn: Callable[[T], R],
                 on_fail: Callable[[T, BaseException], R | None]) -> list[R]:
    """``[fn(item) ...]``; an item whose conversion fails for a ``record`` reason goes to
    ``on_fail``, which returns a replacement or None (the item is left out). Other
    failures propagate."""
    out: list[R] = []
    for item in items:
        try:
            out.append(fn(item))
        except Exception as exc:
            if classify(exc) != "record":
                raise
            fixed = on_fail(item, exc)
            if fixed is not None:
                out.append(fixed)
    return out
