"""A model's recent prediction log, decoded once and kept current from two cursors.

:class:`LogTail` holds the rows of one model logged since ``start`` as columns (one entry
per row, in ``(ts, id)`` order, outputs decoded column by column by
:func:`rampup.rollout.batch.decode`, class labels as :class:`~rampup.rollout.codes.Codes`),
with each row's latest label. :meth:`LogTail.refresh` reads only what is new, over one
connection (``Database.reads``):

* **predictions**: rows with ``ts`` from the newest timestamp seen minus ``lag_s`` (ids
  are time-ordered, so this is a range scan of the newest part of the index). Rows already
  held are skipped before decoding; the overlap catches rows that a replica's log writer
  committed up to ``lag_s`` after their timestamp (the writer flushes every 0.2 s; a
  row committed later than ``lag_s`` is only seen by a rebuild, e.g. the next step).
* **labels**: feedback rows with an id above a cursor. Feedback ids come from a sequence,
  and on PostgreSQL a transaction that took a lower id can commit after one that took a
  higher id, so each refresh re-reads from the cursor it had ``label_lag_s`` seconds ago
  (a bounded re-read of a few seconds of labels, not of the window). A label replaces a
  row's label only when its feedback id is higher (the latest label wins, as in the join
  of :meth:`Predictions.iter_predictions`), so re-reading is idempotent. A row read after
  its label arrived gets it when it is read: a range's labels come by one range of the
  ``prediction_id`` index (``Feedback.labels_in_range``), other rows' by their ids.

Shadow rows are linked to their answer (``"<answer id>~<version>"``, same request id)
when both are held; whether a link counts (within ``slack_s``, answer inside the window)
is decided when a window is built (:mod:`rampup.rollout.incremental`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.rollout.batch import ROLES, Batch, decode
from rampup.rollout.codes import Codes, equal
from rampup.store import Database

#: how long after its timestamp a prediction row may be committed and still be picked up.
LAG_S = 10.0
_NAN = float("nan")

#: column name -> dtype; object columns hold Python values. ``ccode``/``lcode``/``dcode``
#: are :class:`~rampup.rollout.codes.Codes` of the canonical prediction (-1 unless the
#: call succeeded with an output), label and concept prediction; ``cstr``/``lstr``/``dstr``
#: hold the strings of spilled codes.
_COLUMNS: dict[str, Any] = {
    "ts": np.float64, "ver": np.int32, "shadow": np.bool_, "suffix_ok": np.bool_,
    "latency": np.float64, "failed": np.bool_, "has_out": np.bool_, "score": np.float64,
    "pred": object, "ccode": np.int32, "cstr": object, "pnum": np.float64,
    "has_label": np.bool_, "label": object, "lcode": np.int32, "lstr": object,
    "lnum": np.float64, "label_id": np.int64, "pair": np.int64,
}
#: with ``concept=True``: the row as :func:`rampup.drift.source.decode_rows` decodes it.
_CONCEPT: dict[str, Any] = {"dpred": object, "dcode": np.int32, "dstr": object,
                            "dconf": np.float64, "probs": object, "dfailed": np.bool_,
                            "dknown": np.bool_}


def _objs(values: list[Any], k: int) -> npt.NDArray[np.object_]:
    """An object array of ``values`` as they are (lists stay elements)."""
    return np.fromiter(values, dtype=object, count=k)


def _spill(col: npt.NDArray[np.object_], at: npt.NDArray[np.int64],
           spilled: dict[int, str]) -> None:
    col[at] = None
    for k, s in spilled.items():
        col[at[k]] = s


class LogTail:
    """The decoded rows of ``model`` with ``ts >= start`` (see the module doc)."""

    def __init__(self, store: Database, model: str, start: float, *, lag_s: float = LAG_S,
                 label_lag_s: float = LAG_S, concept: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.model, self.start, self.concept = store, model, start, concept
        self.lag_s, self.label_lag_s, self.clock = lag_s, label_lag_s, clock
        self.n = 0
        kinds = {**_COLUMNS, **(_CONCEPT if concept else {})}
        self.cols: dict[str, npt.NDArray[Any]] = {k: np.empty(1024, dtype=d)
                                                  for k, d in kinds.items()}
        self.ids: list[str] = []
        self.request_ids: list[str] = []
        self.index: dict[str, int] = {}
        self.versions: dict[str, int] = {}
        self._waiting: dict[str, list[str]] = {}  # answer id -> shadow ids not yet linked
        self.read_until: float | None = None  # rows with ts < read_until have been read
        # label cursor: taken before the first read, so labels committed meanwhile are
        # re-applied (idempotently) by the next refresh
        self._label_cursor = store.feedback.last_feedback_id()
        self._cursors: deque[tuple[float, int]] = deque([(clock(), self._label_cursor)])
        self._seen_labels: set[int] = set()  # label ids read above the oldest cursor
        self._others: dict[str, float] = {}  # id -> ts of other roles' rows in the overlap
        self.rows_read = self.labels_read = 0
        self.codes = Codes()  # canonical strings of predictions and labels, as integers

    # -- columns ------------------------------------------------------------------------

    def col(self, name: str) -> npt.NDArray[Any]:
        return self.cols[name][: self.n]

    def version_code(self, version: str) -> int:
        return self.versions.setdefault(version, len(self.versions))

    def _grow(self, extra: int) -> None:
        need = self.n + extra
        cap = len(self.cols["ts"])
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for k, a in self.cols.items():
            b = np.empty(cap, dtype=a.dtype)
            b[: self.n] = a[: self.n]
            self.cols[k] = b

    # -- reading ------------------------------------------------------------------------

    def refresh(self, until: float) -> None:
        """Read the rows logged before ``until`` that are not held yet, then new labels."""
        with self.store.reads():  # one connection for the refresh's few queries
            self._refresh(until)

    def _refresh(self, until: float) -> None:
        if self.read_until is None:
            self._read(self.start, until)
            self.read_until = until
        else:
            # the overlap: counted first (an index range, no rows fetched); only when the
            # store holds rows there that the tail does not, their ids, then those rows
            lo, hi = max(self.start, self.read_until - self.lag_s), self.read_until
            top = min(hi, until)
            # (all roles: a count of the ``(model, ts)`` index alone, no row lookups; rows
            # of other roles, e.g. pinned or batch, are remembered by id, not held)
            others = self._others
            if top > lo and self.store.predictions.count_window(
                    self.model, since=lo, until=top, roles=None) != self.held(lo, top) + sum(
                        1 for t in others.values() if lo <= t < top):
                missing = [i for i in self.store.predictions.tail_ids(
                    self.model, since=lo, until=top, roles=None)
                    if i not in self.index and i not in others]
                if missing:
                    self._read(lo, top, missing)
            if until > hi:  # a tick's new rows: fetched at once
                self._read(hi, until, stream=until - hi > 4 * self.lag_s)
            self.read_until = max(until, hi)
            floor = self.read_until - self.lag_s
            if others and min(others.values()) < floor:
                self._others = {i: t for i, t in others.items() if t >= floor}
        self._read_labels()

    def held(self, since: float, until: float) -> int:
        """How many rows with ``ts`` in ``[since, until)`` the tail holds."""
        ts = self.col("ts")
        return int(np.searchsorted(ts, until, side="left")
                   - np.searchsorted(ts, since, side="left"))

    def extend_back(self, start: float) -> None:
        """Hold rows from ``start`` on too (an earlier window than the one held)."""
        if start >= self.start:
            return
        if self.read_until is not None:
            old_start = self.start
            self.start = start
            rows = [r for chunk in self.store.predictions.tail_rows(
                self.model, since=start, until=old_start, roles=ROLES) for r in chunk
                if r[0] not in self.index]
            if rows:
                self._prepend(self._with_labels(decode(rows, concept=self.concept)))
        else:
            self.start = start

    def trim(self, start: float) -> None:
        """Hold only rows from ``start`` on (a sliding window); the columns are compacted
        once at least half of them slid out."""
        self.start = max(self.start, start)
        k = int(np.searchsorted(self.col("ts"), self.start, side="left"))
        if k == 0 or 2 * k < self.n:
            return
        for v in self.cols.values():
            v[: self.n - k] = v[k: self.n].copy()
        self.n -= k
        pair = self.col("pair")
        pair[pair < k] = -1
        pair[pair >= k] -= k
        del self.ids[:k], self.request_ids[:k]
        self.index = {pid: j for j, pid in enumerate(self.ids)}

    def _read(self, since: float, until: float, ids: list[str] | None = None, *,
              stream: bool = True) -> None:
        index, others = self.index, self._others
        for chunk in self.store.predictions.tail_rows(self.model, since=since, until=until,
                                                      roles=None, ids=ids, stream=stream):
            self.rows_read += len(chunk)
            # (id, request_id, ts, version, role, ...): rows of other roles (pinned, batch)
            # in the overlap are remembered by id, not held
            new = [r for r in chunk if r[4] in ROLES and r[0] not in index]
            if self.read_until is not None and len(new) < len(chunk):
                others.update((r[0], r[2]) for r in chunk if r[4] not in ROLES)
            if not new:
                continue
            batch = decode(new, concept=self.concept)
            if ids is None:  # a range: ids in a narrow range, their labels in one query
                self._append(batch.with_labels(self.store.feedback.labels_in_range(
                    self.model, min(batch.ids), max(batch.ids))))
            else:
                self._append(self._with_labels(batch))

    def _with_labels(self, batch: Batch) -> Batch:
        """Rows read for the first time, with their latest label (by feedback id)."""
        return batch.with_labels(self.store.feedback.latest_labels(self.model, batch.ids))

    def _read_labels(self) -> None:
        now = self.clock()
        low = self._cursors[0][1]
        while len(self._cursors) > 1 and self._cursors[1][0] <= now - self.label_lag_s:
            self._cursors.popleft()
            low = self._cursors[0][1]
        # labels in (low, cursor] are re-read only when the store holds some that were
        # not read (a transaction that took a lower id committed late): counted first
        self._seen_labels = seen = {i for i in self._seen_labels if i > low}
        cursor = self._label_cursor
        if low < cursor and self.store.feedback.count_labels(
                self.model, low, cursor) == len(seen):
            low = cursor
        got = self.store.feedback.labels_after(self.model, low)
        self.labels_read += len(got)
        seen.update(fid for fid, _, _ in got)
        self.set_labels(got)
        if got:
            self._label_cursor = max(self._label_cursor, got[-1][0])
        self._cursors.append((now, self._label_cursor))

    def set_labels(self, labels: list[tuple[int, str, Any]]) -> None:
        """Apply ``(feedback id, prediction id, value)`` labels in feedback-id order (the
        latest label of a row wins; a label older than the row's is ignored)."""
        index = self.index
        latest: dict[int, tuple[int, Any]] = {}
        for fid, pid, value in labels:
            i = index.get(pid)
            if i is not None:
                latest[i] = (fid, value)  # a later (higher) id of the same row replaces it
        if latest:
            self._apply_labels(np.fromiter(latest, dtype=np.int64, count=len(latest)),
                               [f for f, _ in latest.values()], [v for _, v in latest.values()])

    def _apply_labels(self, at: npt.NDArray[np.int64], fids: list[int],
                      values: list[Any]) -> None:
        """Set the labels of rows ``at`` whose label id is lower than the new one."""
        c = self.cols
        ids = np.asarray(fids, dtype=np.int64)
        newer = ids > c["label_id"][at]
        if not newer.all():
            at, ids = at[newer], ids[newer]
            values = [v for v, keep in zip(values, newer.tolist(), strict=True) if keep]
        if not values:
            return
        codes, nums, spilled = self.codes.encode(values)
        c["label_id"][at] = ids
        c["label"][at] = _objs(values, len(values))
        c["has_label"][at] = codes != -1
        c["lcode"][at] = codes
        c["lnum"][at] = nums
        _spill(c["lstr"], at, spilled)

    # -- placing rows -------------------------------------------------------------------

    def _write(self, at: npt.NDArray[np.int64], b: Batch) -> None:
        """Write the batch's rows at positions ``at`` (held in the index already), column
        by column, then their labels."""
        k = len(b)
        if not k:
            return
        c, vc = self.cols, self.versions
        for v in set(b.versions).difference(vc):
            self.version_code(v)
        c["ts"][at] = b.ts
        c["ver"][at] = [vc[v] for v in b.versions]
        shadow = np.asarray(b.shadow, dtype=np.bool_)
        c["shadow"][at] = shadow
        c["suffix_ok"][at] = False
        if shadow.any():
            sh = np.flatnonzero(shadow).tolist()
            c["suffix_ok"][at[sh]] = [b.ids[i].endswith(f"~{b.versions[i]}") for i in sh]
        c["latency"][at] = b.latency
        failed, has_out = np.asarray(b.failed), np.asarray(b.has_out)
        c["failed"][at], c["has_out"][at] = failed, has_out
        c["score"][at] = b.score
        c["pred"][at] = _objs(b.pred, k)
        codes, nums, spilled = self.codes.encode(b.pred)
        answered = has_out & ~failed
        c["ccode"][at] = np.where(answered, codes, -1)
        c["pnum"][at] = nums
        _spill(c["cstr"], at, {i: s for i, s in spilled.items() if answered[i]})
        c["label_id"][at] = -1
        c["has_label"][at] = False
        c["label"][at] = None
        c["lcode"][at] = -1
        c["lstr"][at] = None
        c["lnum"][at] = _NAN
        c["pair"][at] = -1
        if self.concept:
            c["dpred"][at] = _objs(b.dpred, k)
            codes, _, spilled = self.codes.encode(b.dpred)
            c["dcode"][at] = codes
            _spill(c["dstr"], at, spilled)
            c["dknown"][at] = codes != -1
            c["dconf"][at] = b.dconf
            c["probs"][at] = _objs(b.probs, k)
            c["dfailed"][at] = b.dfailed
        with_label = [(i, f) for i, f in enumerate(b.label_ids) if f is not None]
        if with_label:
            self._apply_labels(at[[i for i, _ in with_label]], [f for _, f in with_label],
                               [b.labels[i] for i, _ in with_label])

    def _append(self, batch: Batch) -> None:
        b = batch.sort()
        first = (b.ts[0], b.ids[0])
        # rows committed late land before rows already held: re-place the tail from there
        a = int(np.searchsorted(self.col("ts"), first[0], side="left"))
        while a < self.n and (self.cols["ts"][a], self.ids[a]) < first:
            a += 1
        if a == self.n:
            self._place_new(b)
            return
        ts = self.cols["ts"]
        keys = [(float(ts[i]), self.ids[i], i) for i in range(a, self.n)]
        keys += [(t, pid, ~k) for k, (t, pid) in enumerate(zip(b.ts, b.ids, strict=True))]
        keys.sort(key=lambda x: (x[0], x[1]))
        self._place(a, [src for _, _, src in keys], b)

    def _place_new(self, b: Batch) -> None:
        """Append the batch's rows after the rows held (all later in ``(ts, id)``)."""
        n, k = self.n, len(b)
        self._grow(k)
        self.ids.extend(b.ids)
        self.request_ids.extend(b.request_ids)
        self.index.update(zip(b.ids, range(n, n + k), strict=True))
        self.n = n + k
        fresh = np.arange(n, n + k, dtype=np.int64)
        self._write(fresh, b)
        self._link_all(fresh, b)

    def _place(self, a: int, order: list[int], b: Batch) -> None:
        """Write rows from position ``a`` on in ``order``: an old row's position (>= 0),
        or ``~k`` for the batch's ``k``-th row; fix the index, the pairs and the links."""
        old_n = self.n
        self._grow(a + len(order) - old_n)
        saved = {k: v[a:old_n].copy() for k, v in self.cols.items()}
        saved_ids = self.ids[a:old_n]
        saved_req = self.request_ids[a:old_n]
        del self.ids[a:], self.request_ids[a:]
        fresh: list[int] = []
        old_at: list[int] = []
        old_from: list[int] = []
        for j, src in enumerate(order, start=a):
            if src >= 0:
                old_at.append(j)
                old_from.append(src - a)
                self.ids.append(saved_ids[src - a])
                self.request_ids.append(saved_req[src - a])
            else:
                self.ids.append(b.ids[~src])
                self.request_ids.append(b.request_ids[~src])
                fresh.append(j)
            self.index[self.ids[j]] = j
        to, src_at = np.asarray(old_at, dtype=np.int64), np.asarray(old_from, dtype=np.int64)
        for name, v in saved.items():
            self.cols[name][to] = v[src_at]
        self.n = a + len(order)
        at = np.asarray(fresh, dtype=np.int64)  # the batch's rows, in batch order
        self._write(at, b)
        pair = self.col("pair")
        remap = np.arange(old_n, dtype=np.int64)
        remap[src_at + a] = to
        linked = pair >= 0
        pair[linked] = remap[pair[linked]]
        self._link_all(at, b)

    def _prepend(self, b: Batch) -> None:
        """Put the batch's rows (all earlier than the rows held) first."""
        k = len(b)
        if not k:
            return
        b = b.sort()
        old_n = self.n
        self._grow(k)
        for v in self.cols.values():
            v[k: k + old_n] = v[:old_n].copy()
        pair = self.cols["pair"][k: k + old_n]
        pair[pair >= 0] += k
        self.ids = b.ids + self.ids
        self.request_ids = b.request_ids + self.request_ids
        self.index = {pid: j for j, pid in enumerate(self.ids)}
        self.n = old_n + k
        at = np.arange(k, dtype=np.int64)
        self._write(at, b)
        self._link_all(at, b)

    def _link_all(self, at: npt.NDArray[np.int64], b: Batch) -> None:
        """Link the new rows ``at`` (the batch's, in its order) to their shadows/answers."""
        shadow = b.shadow
        for j, s in zip(at.tolist(), shadow, strict=True):
            if s:
                self._link(j)
        if self._waiting:
            for j, s in zip(at.tolist(), shadow, strict=True):
                if not s and self.ids[j] in self._waiting:
                    self._link(j)

    def _link(self, j: int) -> None:
        """Link a shadow row and its answer once both are held."""
        c, pid = self.cols, self.ids[j]
        if c["shadow"][j]:
            answer_id = pid.rpartition("~")[0]
            i = self.index.get(answer_id)
            if i is not None and not c["shadow"][i]:
                if self.request_ids[i] == self.request_ids[j]:
                    c["pair"][j] = i
            elif i is None:
                self._waiting.setdefault(answer_id, []).append(pid)
        else:
            for sid in self._waiting.pop(pid, ()):
                s = self.index.get(sid)
                if s is not None and self.request_ids[s] == self.request_ids[j]:
                    c["pair"][s] = j

    # -- what windows compare -----------------------------------------------------------

    def same_class(self, pred: npt.NDArray[np.int64], label: npt.NDArray[np.int64],
                   code: str = "ccode") -> npt.NDArray[np.bool_]:
        """Whether the prediction (``ccode``, or ``dcode``) of rows ``pred`` is the label
        of rows ``label``, as canonical strings."""
        a, b = self.col(code)[pred], self.col("lcode")[label]
        if not self.codes.spilled:
            out: npt.NDArray[np.bool_] = a == b
            return out
        spilled = {"ccode": "cstr", "dcode": "dstr"}[code]
        return equal(self.codes, a, self.col(spilled)[pred], b, self.col("lstr")[label])

    def rows(self, version: str, since: float, until: float, *, shadow: bool | None = None
             ) -> npt.NDArray[np.int64]:
        """Positions of ``version``'s rows with ``ts`` in ``[since, until)`` (only shadow
        rows, or only answers, when ``shadow`` says so)."""
        code = self.versions.get(version)
        if code is None:
            return np.empty(0, dtype=np.int64)
        ts = self.col("ts")
        lo, hi = np.searchsorted(ts, [since, until], side="left").tolist()
        m = self.cols["ver"][lo:hi] == code
        if shadow is not None:
            m &= self.cols["shadow"][lo:hi] if shadow else ~self.cols["shadow"][lo:hi]
        out: npt.NDArray[np.int64] = np.flatnonzero(m) + lo
        return out

    def predictions(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
        """The canonical predictions of successful rows ``rows``, as strings."""
        codes = self.col("ccode")[rows]
        if codes.size and codes.min() < 0:  # spilled strings
            return np.asarray(self.codes.strings_of(codes, self.col("cstr")[rows]),
                              dtype=np.str_)
        out: npt.NDArray[np.str_] = self.codes.array()[codes]
        return out
