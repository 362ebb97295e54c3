"""What a server holds from start-up is kept out of the garbage collector's way.

A served process holds a few hundred thousand long-lived objects before its first
request (FastAPI, SQLAlchemy, pandas, scikit-learn, the models). CPython's oldest
generation is collected when enough new objects have survived into it — which a busy
server's queued log records do within seconds — and such a collection walks every one
of those objects with the interpreter stopped: 100 to 300 ms on this project's benchmark
server, every few seconds at 3,000 req/s, a pause every in-flight request waits out
(the p99.9 and max of ``benchmarks/serving.py``).

:func:`settle` runs one full collection and then freezes what survived
(:func:`gc.freeze`: moved to a permanent generation the collector never scans), so a
later collection walks only what was made since; measured in-process on the benchmark
model, the longest full collection fell from 292 ms to 11 ms. Models loaded later (a
new deployment) are frozen too, without a collection (``collect=False``: no pause
mid-traffic). Frozen objects are still freed by reference counting when dropped; only
garbage *cycles* among them wait (the same as objects that are never collected at all).
"""

from __future__ import annotations

import gc


def settle(*, collect: bool = True) -> int:
    """Collect (optionally) and freeze every object alive now; return how many objects
    are frozen in all."""
    if collect:
        gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
