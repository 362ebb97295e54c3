"""A model's recent prediction log, decoded once and kept current from two cursors.

:class:`LogTail` holds the rows of one model logged since ``start`` as columns (one entry
per row, in ``(ts, id)`` order, outputs decoded, class labels canonicalised), with each
row's latest label. :meth:`LogTail.refresh` reads only what is new:

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
  its label arrived gets the label from the join.

Shadow rows are linked to their answer (``"<answer id>~<version>"``, same request id)
when both are held; whether a link counts (within ``slack_s``, answer inside the window)
is decided when a window is built (:mod:`rampup.rollout.incremental`).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from rampup.rollout.agreement import as_number, canonical
from rampup.rollout.window import _Pred
from rampup.store import Database

#: how long after its timestamp a prediction row may be committed and still be picked up.
LAG_S = 10.0
ROLES = ("answer", "shadow")
_NAN = float("nan")

#: column name -> dtype; object columns hold Python values.
_COLUMNS: dict[str, Any] = {
    "ts": np.float64, "ver": np.int32, "shadow": np.bool_, "suffix_ok": np.bool_,
    "latency": np.float64, "failed": np.bool_, "has_out": np.bool_, "score": np.float64,
    "pred": object, "canon": object, "pnum": np.float64, "has_label": np.bool_,
    "label": object, "lcanon": object, "lnum": np.float64, "label_id": np.int64,
    "pair": np.int64, "canon_u": "<U1",
}
#: the widest ``canon`` kept as a fixed-width string column too (``canon_u``: a window's
#: predictions are sliced from it instead of converted row by row); wider outputs (text)
#: switch that column off for the tail
MAX_CANON_U = 64
#: with ``concept=True``: the row as :func:`rampup.drift.source.decode_rows` decodes it.
_CONCEPT: dict[str, Any] = {"dpred": object, "dcanon": object, "dconf": np.float64,
                            "probs": object, "dfailed": np.bool_,
                            "dknown": np.bool_}


def _objs(values: list[Any], k: int) -> npt.NDArray[np.object_]:
    """An object array of ``values`` as they are (lists stay elements)."""
    return np.fromiter(values, dtype=object, count=k)


def _labelled(rows: list[dict[str, Any]], labels: dict[str, tuple[int, Any]]
              ) -> list[dict[str, Any]]:
    for r in rows:
        r["label_id"], r["label"] = labels.get(r["id"], (None, None))
    return rows


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
        self.canon_u = True  # whether the ``canon_u`` column is kept (see MAX_CANON_U)

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
            if until > hi:
                self._read(hi, until)
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
            old_n, old_start = self.n, self.start
            self.start = start
            rows = [r for chunk in self.store.predictions.tail_rows(
                self.model, since=start, until=old_start, roles=ROLES) for r in chunk
                if r["id"] not in self.index]
            self._prepend(self._with_labels(rows), old_n)
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

    def _read(self, since: float, until: float, ids: list[str] | None = None) -> None:
        labels: dict[str, tuple[int, Any]] | None = None
        for chunk in self.store.predictions.tail_rows(self.model, since=since, until=until,
                                                      roles=None, ids=ids):
            self.rows_read += len(chunk)
            if self.read_until is not None:
                for r in chunk:
                    if r["role"] not in ROLES:
                        self._others[r["id"]] = r["ts"]
            new = [r for r in chunk if r["role"] in ROLES and r["id"] not in self.index]
            if not new:
                continue
            if ids is None:  # a range: its labels in one query
                if labels is None:
                    labels = self.store.predictions.tail_labels(
                        self.model, since=since, until=until, roles=ROLES)
                self._append(_labelled(new, labels))
            else:
                self._append(self._with_labels(new))

    def _with_labels(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows read for the first time, with their latest label (by feedback id)."""
        return _labelled(rows, self.store.feedback.latest_labels(
            self.model, [r["id"] for r in rows]))

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
        """Apply ``(feedback id, prediction id, value)`` labels in feedback-id order, as
        :meth:`set_label` one by one would (the latest label of a row wins)."""
        index = self.index
        latest: dict[int, tuple[int, Any]] = {}
        for fid, pid, value in labels:
            i = index.get(pid)
            if i is not None:
                latest[i] = (fid, value)  # a later (higher) id of the same row replaces it
        if not latest:
            return
        at = np.fromiter(latest, dtype=np.int64, count=len(latest))
        fids = np.fromiter((f for f, _ in latest.values()), dtype=np.int64, count=len(latest))
        newer = fids > self.cols["label_id"][at]
        if not newer.all():
            at, fids = at[newer], fids[newer]
            values = [v for (_, v), keep in zip(latest.values(), newer, strict=True) if keep]
        else:
            values = [v for _, v in latest.values()]
        c, k = self.cols, len(values)
        c["label_id"][at] = fids
        c["label"][at] = _objs(values, k)
        c["has_label"][at] = [v is not None for v in values]
        c["lcanon"][at] = _objs([None if v is None else canonical(v) for v in values], k)
        nums = [as_number(v) for v in values]
        c["lnum"][at] = [_NAN if n is None else n for n in nums]

    def set_label(self, prediction_id: str, label_id: int, value: Any) -> None:
        """Apply one label (a newer feedback id replaces an older one)."""
        i = self.index.get(prediction_id)
        if i is None or self.cols["label_id"][i] >= label_id:
            return
        c = self.cols
        c["label_id"][i] = label_id
        c["label"][i] = value
        c["has_label"][i] = value is not None
        c["lcanon"][i] = None if value is None else canonical(value)
        n = as_number(value)
        c["lnum"][i] = _NAN if n is None else n

    # -- placing rows -------------------------------------------------------------------

    def _decode(self, rows: Iterable[dict[str, Any]]) -> list[tuple[_Pred, dict[str, Any]]]:
        out = []
        for r in rows:
            raw = r.get("outputs")
            if raw and isinstance(raw, str | bytes):  # parsed once, for both decoders
                r["outputs"] = r["_out"] = orjson.loads(raw)
            else:
                r["_out"] = None
            out.append((_Pred.of(r), r))
        return out

    def _write(self, js: list[int], items: list[tuple[_Pred, dict[str, Any]]]) -> None:
        """Write new rows at positions ``js`` (held in the index already), column by
        column, then their labels."""
        if not items:
            return
        c, at = self.cols, np.asarray(js, dtype=np.int64)
        ps = [p for p, _ in items]
        k = len(ps)
        code = self.version_code
        c["ts"][at] = [p.ts for p in ps]
        c["ver"][at] = [code(p.version) for p in ps]
        c["shadow"][at] = [p.role == "shadow" for p in ps]
        c["suffix_ok"][at] = [p.id.endswith(f"~{p.version}") for p in ps]
        c["latency"][at] = [p.latency_ms for p in ps]
        c["failed"][at] = [p.failed for p in ps]
        c["has_out"][at] = [p.has_output for p in ps]
        c["score"][at] = [_NAN if p.score is None else p.score for p in ps]
        c["pred"][at] = _objs([p.prediction for p in ps], k)
        canon = [canonical(p.prediction) if p.has_output and not p.failed else None
                 for p in ps]
        c["canon"][at] = _objs(canon, k)
        if self.canon_u:
            width = max(len(x) for x in canon if x is not None) if any(canon) else 0
            if width > c["canon_u"].dtype.itemsize // 4:
                if width > MAX_CANON_U:
                    self.canon_u = False
                else:
                    c["canon_u"] = c["canon_u"].astype(f"<U{width}")
            if self.canon_u:
                c["canon_u"][at] = ["" if x is None else x for x in canon]
        nums = [as_number(p.prediction) for p in ps]
        c["pnum"][at] = [_NAN if n is None else n for n in nums]
        c["label_id"][at] = -1
        c["has_label"][at] = False
        c["label"][at] = None
        c["lcanon"][at] = None
        c["lnum"][at] = _NAN
        c["pair"][at] = -1
        if self.concept:
            for j, (_, row) in zip(js, items, strict=True):
                self._write_concept(j, row)
        for p, row in items:
            label_id = row.get("label_id")
            if label_id is not None:
                self.set_label(p.id, int(label_id), p.label)

    def _write_concept(self, i: int, row: dict[str, Any]) -> None:
        c = self.cols
        out = row["_out"]
        conf, probs = row.get("confidence"), None
        if isinstance(out, dict):
            pred = out.get("prediction")
            p = out.get("probabilities")
            probs = p if isinstance(p, dict) else None
            conf = conf if conf is not None else out.get("confidence")
        else:
            pred = out
        c["dpred"][i], c["probs"][i] = pred, probs
        c["dcanon"][i] = None if pred is None else canonical(pred)
        c["dknown"][i] = pred is not None
        c["dconf"][i] = float(conf) if isinstance(conf, int | float) else _NAN
        c["dfailed"][i] = bool(row.get("error"))

    def _append(self, rows: list[dict[str, Any]]) -> None:
        decoded = self._decode(rows)
        decoded.sort(key=lambda x: (x[0].ts, x[0].id))
        first = (decoded[0][0].ts, decoded[0][0].id)
        # rows committed late land before rows already held: re-place the tail from there
        a = int(np.searchsorted(self.col("ts"), first[0], side="left"))
        while a < self.n and (self.cols["ts"][a], self.ids[a]) < first:
            a += 1
        if a < self.n:
            old = [(self._pred_at(i), {"label_id": None}, i) for i in range(a, self.n)]
            merged = sorted([(p, r, -1) for p, r in decoded] + old,
                            key=lambda x: (x[0].ts, x[0].id))
            self._place(a, merged)
        else:
            self._place(self.n, [(p, r, -1) for p, r in decoded])

    def _pred_at(self, i: int) -> _Pred:
        c = self.cols
        return _Pred(self.ids[i], self.request_ids[i], float(c["ts"][i]), "", "", 0.0,
                     False, False, None, None, None)

    def _place(self, a: int, items: list[tuple[_Pred, dict[str, Any], int]]) -> None:
        """Write ``items`` (new rows, or held rows by their old position) from position
        ``a`` on, in order, and fix the index, the pairs and the links."""
        old_n = self.n
        self._grow(a + len(items) - old_n)
        moved = {i: a + k for k, (_, _, i) in enumerate(items) if i >= 0}
        saved = {k: v[a:old_n].copy() for k, v in self.cols.items()} if moved else {}
        saved_ids = self.ids[a:old_n]
        saved_req = self.request_ids[a:old_n]
        del self.ids[a:], self.request_ids[a:]
        fresh: list[int] = []
        new: list[tuple[_Pred, dict[str, Any]]] = []
        old_at: list[int] = []
        old_from: list[int] = []
        for k, (p, row, i) in enumerate(items):
            j = a + k
            if i >= 0:
                old_at.append(j)
                old_from.append(i - a)
                self.ids.append(saved_ids[i - a])
                self.request_ids.append(saved_req[i - a])
            else:
                self.ids.append(p.id)
                self.request_ids.append(p.request_id)
                fresh.append(j)
                new.append((p, row))
            self.index[self.ids[j]] = j
        if old_at:
            to, src = np.asarray(old_at), np.asarray(old_from)
            for name, v in saved.items():
                self.cols[name][to] = v[src]
        self.n = a + len(items)
        self._write(fresh, new)
        if moved:
            pair = self.col("pair")
            remap = np.arange(old_n, dtype=np.int64)
            for i, j in moved.items():
                remap[i] = j
            linked = pair >= 0
            pair[linked] = remap[pair[linked]]
        for j in fresh:
            self._link(j)

    def _prepend(self, rows: list[dict[str, Any]], old_n: int) -> None:
        if not rows:
            return
        decoded = self._decode(r for r in rows if r["id"] not in self.index)
        decoded.sort(key=lambda x: (x[0].ts, x[0].id))
        k = len(decoded)
        self._grow(k)
        for v in self.cols.values():
            v[k: k + old_n] = v[:old_n].copy()
        pair = self.cols["pair"][k: k + old_n]
        pair[pair >= 0] += k
        old_ids, old_req = self.ids, self.request_ids
        self.ids = [p.id for p, _ in decoded] + old_ids
        self.request_ids = [p.request_id for p, _ in decoded] + old_req
        self.index = {pid: j for j, pid in enumerate(self.ids)}
        self.n = old_n + k
        self._write(list(range(k)), decoded)
        for j in range(k):
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
