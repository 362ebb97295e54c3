"""Rollout windows from a :class:`~rampup.rollout.tail.LogTail` instead of the raw log.

:func:`tail_window` and :func:`tail_paired` give exactly what :func:`~rampup.rollout.window.
measure` and :func:`~rampup.rollout.window.paired` give for the same rows and labels (the
equivalence is property-tested), but from columns already decoded: a tick costs one read
of the rows and labels that are new, then vectorised selections. :class:`StepWindows` is
what the controller keeps between ticks: one tail per rollout step, rebuilt once from the
step's start when a controller starts (a new leader) or a step begins, then incremental.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from rampup.rollout.tail import LAG_S, LogTail
from rampup.rollout.window import HUMAN, SLACK_S, PairedStats, WindowStats, _objects
from rampup.store import Database

IntArray = npt.NDArray[np.int64]


def _answers(tail: LogTail, shadows: IntArray, since: float, until: float, slack_s: float,
             keep: Callable[[IntArray], npt.NDArray[np.bool_]] | None = None) -> IntArray:
    """Per shadow row: the position of the answer it pairs with, -1 for none (the rule of
    :func:`rampup.rollout.window._join`: same request, within ``slack_s`` either way, the
    answer logged in ``[since - slack_s, until)``)."""
    a = tail.col("pair")[shadows]
    ok = a >= 0
    if ok.any():
        ts = tail.col("ts")
        ta, tsh = ts[np.where(ok, a, 0)], ts[shadows]
        ok &= ~(ta < tsh - slack_s) & ~(tsh < ta - slack_s)
        ok &= (ta >= since - slack_s) & (ta < until)
        if keep is not None:
            ok &= keep(np.where(ok, a, 0))
    return np.where(ok, a, -1)


def tail_window(tail: LogTail, version: str, *, since: float, until: float,
                roles: Sequence[str] = ("answer",), slack_s: float = SLACK_S) -> WindowStats:
    """:func:`rampup.rollout.window.measure` over the rows ``tail`` holds."""
    roles = tuple(roles)
    shadow = tail.col("shadow")
    if "shadow" not in roles:
        idx = tail.rows(version, since, until, shadow=False)
    elif "answer" not in roles:
        idx = tail.rows(version, since, until, shadow=True)
    else:
        idx = tail.rows(version, since, until)
    failed = tail.col("failed")[idx]
    ok = idx[~failed & tail.col("has_out")[idx]]
    scores = tail.col("score")[ok]
    # the label a row is judged on: its own, else (shadow rows) its answer's
    src = ok
    if "shadow" in roles:
        sh = shadow[ok]
        if sh.any():
            src = ok.copy()
            ans = _answers(tail, ok[sh], since, until, slack_s)
            own = tail.col("has_label")[ok[sh]]
            src[sh] = np.where(~own & (ans >= 0), ans, ok[sh])
    has_label = tail.col("has_label")[src]
    lab = ok[has_label]
    lsrc = lab if src is ok else src[has_label]
    pn, ln = tail.col("pnum")[lab], tail.col("lnum")[lsrc]
    both = ~np.isnan(pn) & ~np.isnan(ln)
    correct = int(np.count_nonzero(tail.same_class(lab, lsrc))) if lab.size else 0
    return WindowStats(
        version, roles, since, until, int(idx.size), int(failed.sum()),
        tail.col("latency")[idx], int(lab.size), correct,
        np.abs(pn[both] - ln[both]), tail.predictions(ok), scores[np.isfinite(scores)],
        tail.col("pred")[lab], tail.col("label")[lsrc])  # fancy indexing: copies


def tail_paired(tail: LogTail, candidate: str, primary: str, *, since: float, until: float,
                slack_s: float = SLACK_S) -> PairedStats:
    """:func:`rampup.rollout.window.paired` over the rows ``tail`` holds."""
    human = primary == HUMAN
    s = tail.rows(candidate, since, until)
    s = s[tail.col("shadow")[s] & tail.col("suffix_ok")[s]]
    code = tail.versions.get(primary, -1)
    ver = tail.col("ver")
    a = _answers(tail, s, since, until, slack_s,
                 None if human else (lambda i: ver[i] == code))
    failed, has_out, has_label = tail.col("failed"), tail.col("has_out"), tail.col("has_label")
    matched = a >= 0
    ai = np.where(matched, a, 0)
    c_err = matched & (failed[s] | ~has_out[s])
    rest = matched & ~c_err
    pending = rest & ~has_label[ai] if human else np.zeros(s.size, np.bool_)
    p_err = np.zeros(s.size, np.bool_) if human else rest & (failed[ai] | ~has_out[ai])
    good = rest & ~pending & ~p_err
    gs, ga = s[good], a[good]
    label, pred, score = tail.col("label"), tail.col("pred"), tail.col("score")
    labels = np.where(has_label[ga], label[ga], label[gs])
    return PairedStats(
        candidate, primary, label[ga] if human else pred[ga], pred[gs],
        np.full(ga.size, np.nan) if human else score[ga].copy(), score[gs].copy(),
        _objects(labels.tolist()), unmatched=int((~matched).sum()),
        candidate_errors=int(c_err.sum()), primary_errors=int(p_err.sum()),
        pending=int(pending.sum()))


class StepWindows:
    """The controller's windows between ticks: one :class:`LogTail` per rollout step.

    ``measure``/``paired`` take the same arguments as the functions of
    :mod:`rampup.rollout.window` plus the rollout's ``key`` (its id and step start); the
    first call for a key reads the step's window once, later ticks read what is new.
    Windows of steps no longer asked for are dropped by :meth:`keep`.
    """

    def __init__(self, store: Database, *, lag_s: float = LAG_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.lag_s, self.clock = store, lag_s, clock
        self.tails: dict[Any, LogTail] = {}
        self._fresh: dict[Any, float] = {}

    def tail(self, key: Any, model: str, since: float, until: float) -> LogTail:
        t = self.tails.get(key)
        if t is None or t.model != model:
            t = self.tails[key] = LogTail(self.store, model, since, lag_s=self.lag_s,
                                          label_lag_s=self.lag_s, clock=self.clock)
        if since < t.start:  # a longer look back: take twice as much, extend rarely
            t.extend_back(since - max(self.lag_s, until - since))
        if self._fresh.get(key) != until:
            t.refresh(until)
            self._fresh[key] = until
        return t

    def measure(self, key: Any, model: str, version: str, *, since: float, until: float,
                roles: Sequence[str] = ("answer",), slack_s: float = SLACK_S) -> WindowStats:
        start = since - slack_s if "shadow" in roles else since
        t = self.tail(key, model, start, until)
        return tail_window(t, version, since=since, until=until, roles=roles, slack_s=slack_s)

    def paired(self, key: Any, model: str, candidate: str, primary: str, *, since: float,
               until: float, slack_s: float = SLACK_S) -> PairedStats:
        t = self.tail(key, model, since - slack_s, until)
        return tail_paired(t, candidate, primary, since=since, until=until, slack_s=slack_s)

    def keep(self, keys: set[Any]) -> None:
        for k in [k for k in self.tails if k not in keys]:
            del self.tails[k]
            self._fresh.pop(k, None)


__all__ = ["StepWindows", "tail_paired", "tail_window"]
