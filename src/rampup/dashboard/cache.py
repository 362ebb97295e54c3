"""Buckets of metric windows per (version, role), decoded once and reused while their rows
are unchanged.

A page over 24 h reads 1,440 one-minute windows per version; decoding them is most of the
cost. A bucket's *signature* is the (start, replica, updated_at) of the rows it holds,
read with ``Database.windows.metric_window_stamps`` (no data, cheap). A bucket
whose signature matches the cached one is reused; only new or changed buckets (the
current minutes, windows that labels updated) are fetched and decoded. This replica's
in-memory windows replace its stored rows and are merged fresh on every call.

Cached aggregates are shared: callers must not change them (merge into a new
:class:`WindowAggregate` instead).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from rampup.dashboard.panels import Grid
from rampup.monitor.aggregates import NO_STAGE, SECTIONS, CustomAgg, WindowAggregate, WindowKey
from rampup.monitor.features import FeatureAgg
from rampup.monitor.stats import Moments, TopCounts

if TYPE_CHECKING:
    from rampup.monitor.recorder import Monitor
    from rampup.store import Database

Group = tuple[str, str]  # (version, role)
Signature = tuple[tuple[float, str, float], ...]
_Key = tuple[str, float, tuple[str, ...], str, str, float]


class BucketCache:
    """At most ``capacity`` decoded buckets, least recently used dropped first."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[_Key, tuple[Signature, WindowAggregate]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: _Key, sig: Signature) -> WindowAggregate | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != sig:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[1]

    def put(self, key: _Key, sig: Signature, agg: WindowAggregate) -> None:
        with self._lock:
            self._items[key] = (sig, agg)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class _FeatureSum:
    """One feature summed over stored windows, straight from their JSON (the same result
    as merging :class:`FeatureAgg` objects, without building one per window)."""

    __slots__ = ("cats", "count", "counts", "edges", "kind", "missing", "moments", "type",
                 "unseen")

    def __init__(self, d: dict[str, Any]) -> None:
        self.kind, self.type = d["kind"], d["type"]
        self.count, self.missing, self.unseen = 0, 0, 0
        self.moments = Moments()
        hist = d.get("hist")
        self.edges: list[Any] | None = hist["edges"] if hist is not None else None
        self.counts: np.ndarray[Any, Any] | None = None
        self.cats = TopCounts.from_dict(d["cats"]) if d.get("cats") is not None else None
        self.add(d, first=True)

    def add(self, d: dict[str, Any], *, first: bool = False) -> None:
        if d["kind"] != self.kind:
            return  # as WindowAggregate.merge: a feature that changed kind is not mixed
        self.count += int(d["count"])
        self.missing += int(d["missing"])
        self.unseen += int(d.get("unseen", 0))
        self.moments.merge(Moments.from_dict(d["moments"]))
        hist = d.get("hist")
        if self.edges is not None:
            if hist is None or hist["edges"] != self.edges:
                self.edges = None  # different reference bins: not comparable
                self.counts = None
            elif self.counts is None:
                self.counts = np.asarray(hist["counts"], dtype=np.int64)
            else:
                self.counts += np.asarray(hist["counts"], dtype=np.int64)
        if not first and self.cats is not None and d.get("cats") is not None:
            self.cats.merge(TopCounts.from_dict(d["cats"]))

    def result(self) -> FeatureAgg:
        d: dict[str, Any] = {"kind": self.kind, "type": self.type, "count": self.count,
                             "missing": self.missing, "moments": self.moments.to_dict()}
        if self.edges is not None and self.counts is not None:
            d["hist"] = {"edges": self.edges, "counts": self.counts.tolist()}
        if self.cats is not None:
            d["cats"] = self.cats.to_dict()
            d["unseen"] = self.unseen
        return FeatureAgg.from_dict(d)


def decode_bucket(docs: Iterable[dict[str, Any]], sections: set[str]) -> WindowAggregate:
    """Stored window documents merged into one aggregate. Features are summed on the
    JSON and decoded once per bucket, which is most of the saving on a long range."""
    out = WindowAggregate()
    rest = sections - {"inputs"}
    feats: dict[str, _FeatureSum] = {}
    for d in docs:
        out.merge(WindowAggregate.from_dict(d, rest))
        if "inputs" not in sections:
            continue
        inp = d["inputs"]
        out.input_length.merge(Moments.from_dict(inp["length"]))
        for name, c in inp["custom"].items():
            out.custom.setdefault(str(name), CustomAgg()).merge(CustomAgg.from_dict(c))
        for name, f in inp["features"].items():
            acc = feats.get(name)
            if acc is None:
                feats[str(name)] = _FeatureSum(f)
            else:
                acc.add(f)
    out.features = {n: acc.result() for n, acc in feats.items()}
    return out


def _merged(parts: Iterable[WindowAggregate]) -> WindowAggregate:
    out = WindowAggregate()
    for p in parts:
        out.merge(p)
    return out


def grouped_buckets(store: Database, model: str, grid: Grid, until: float,
                    sections: set[str] | None, *, monitor: Monitor | None = None,
                    cache: BucketCache | None = None, stage: str = NO_STAGE
                    ) -> dict[Group, list[WindowAggregate | None]]:
    """The model's own windows (``stage``: none, or the windows of its work as that
    pipeline stage, ``"<pipeline>/<stage>"``) in ``grid``, merged per bucket and per
    (version, role)."""
    want = set(SECTIONS) if sections is None else set(sections)
    sect = tuple(sorted(want))
    live: dict[WindowKey, WindowAggregate] = {}
    replica = None
    if monitor is not None:
        replica = monitor.replica
        live = {k: a for k, a in monitor.snapshot(model, since=grid.since, until=until).items()
                if k.stage == stage}
    live_keys = {(k.version, k.role, k.start) for k in live}
    sigs: dict[tuple[Group, int], list[tuple[float, str, float]]] = {}
    for s in store.windows.metric_window_stamps(model, since=grid.since, until=until, stage=stage):
        if s.replica == replica and (s.version, s.role, s.window_start) in live_keys:
            continue  # the in-memory window is newer
        i = grid.index(s.window_start)
        if i is not None:
            sigs.setdefault(((s.version, s.role), i), []).append(
                (s.window_start, s.replica, s.updated_at))

    def key(group: Group, i: int) -> _Key:
        owner = model if stage == NO_STAGE else f"{model}\x00{stage}"
        return (owner, grid.step, sect, group[0], group[1], grid.since + i * grid.step)

    stored: dict[tuple[Group, int], WindowAggregate] = {}
    missing: list[tuple[Group, int]] = []
    for gi, rows in sigs.items():
        hit = cache.get(key(*gi), tuple(sorted(rows))) if cache is not None else None
        if hit is None:
            missing.append(gi)
        else:
            stored[gi] = hit
    if missing:
        lo = grid.since + min(i for _, i in missing) * grid.step
        hi = grid.since + (max(i for _, i in missing) + 1) * grid.step
        need = set(missing)
        parts: dict[tuple[Group, int], list[dict[str, Any]]] = {}
        for r in store.windows.metric_windows(model, since=lo, until=min(hi, until), stage=stage):
            group = (r["version"], r["role"])
            i = grid.index(r["window_start"])
            if i is None or (group, i) not in need:
                continue
            if r["replica"] == replica and (group[0], group[1], r["window_start"]) in live_keys:
                continue
            parts.setdefault((group, i), []).append(r["data"])
        for gi in missing:
            agg = decode_bucket(parts.get(gi, []), want)
            stored[gi] = agg
            if cache is not None:
                cache.put(key(*gi), tuple(sorted(sigs[gi])), agg)
    out: dict[Group, list[WindowAggregate | None]] = {}
    for (group, i), agg in stored.items():
        out.setdefault(group, [None] * grid.n)[i] = agg
    for k, agg in live.items():
        i = grid.index(k.start)
        if i is None:
            continue
        buckets = out.setdefault((k.version, k.role), [None] * grid.n)
        b = buckets[i]
        buckets[i] = _merged([b, agg] if b is not None else [agg])
    return dict(sorted(out.items()))
