"""Where a model call runs: inline on the event loop, or on a worker thread.

A call on the event loop costs nothing extra but blocks every other request while it
runs; a call on the executor costs a thread hop (tens of µs of CPU and a GIL hand-off)
but lets the loop keep answering. So a model runs inline only while the call's
*estimated* duration stays within a budget (``RAMPUP_INLINE_BUDGET_MS``, 2 ms by default):
a fast model answering one record runs inline, the same model asked for 1,000 records in
one request goes to the executor, and the other requests never wait for it.

The estimate is an exponentially weighted linear fit of call time against the number of
records (``seconds ~ fixed + per_record * n``), so both a fixed per-call overhead and a
per-record cost are learned from ordinary traffic. Until calls of different sizes have
been seen, the per-record cost is taken as the whole call time per record (for a first
large request this overestimates: it goes to the executor, the safe side). Pure logic:
no clock, no threads; the caller measures and reports each call.

>>> b = InlineBudget(budget_s=0.002)
>>> b.inline(1)  # nothing measured yet: not inline
False
>>> for _ in range(5):
...     b.observe(1, 0.0003)
>>> b.inline(1), b.inline(1000)  # 0.3 ms per single record: 1,000 of them would be 300 ms
(True, False)
>>> for _ in range(20):
...     b.observe(1000, 0.0031)  # measured on the executor: 0.3 ms + 2.8 µs per record
>>> round(b.estimate(1000) * 1000, 1), b.inline(1000), b.inline(200), b.inline(1)
(3.1, False, True, True)
>>> b.observe(1, 0.5)  # one call stalled by the OS for half a second
>>> b.inline(1)
True
"""

from __future__ import annotations

DEFAULT_BUDGET_S = 0.002
WARMUP_CALLS = 3  # calls measured on the executor before a model may run inline
_ALPHA = 0.1  # weight of the newest call in the running averages
SPIKE = 4.0  # a measured call counts as at most this multiple of the estimate


class InlineBudget:
    """A running cost model of one version's predict call and the inline decision."""

    __slots__ = ("_n", "_nn", "_nt", "_t", "budget_s", "calls")

    def __init__(self, budget_s: float = DEFAULT_BUDGET_S) -> None:
        self.budget_s = budget_s
        self.calls = 0
        self._n = 0.0  # weighted means of n, t, n*n and n*t
        self._t = 0.0
        self._nn = 0.0
        self._nt = 0.0

    def observe(self, n: int, seconds: float) -> None:
        """One finished call of ``n`` records that took ``seconds``."""
        n = max(1, n)
        if self.calls >= WARMUP_CALLS:
            # A call stretched by a pause that is not the model's (the OS ran another
            # process, a background thread held the GIL) counts as at most 4x the
            # estimate: one outlier cannot send a fast model to the executor, while a real
            # slow-down still raises the estimate by a third per call.
            seconds = min(seconds, SPIKE * self.estimate(n))
        a = 1.0 if self.calls == 0 else _ALPHA
        self._n += a * (n - self._n)
        self._t += a * (seconds - self._t)
        self._nn += a * (n * n - self._nn)
        self._nt += a * (n * seconds - self._nt)
        self.calls += 1

    def costs(self) -> tuple[float, float]:
        """(fixed seconds per call, seconds per record) of the current fit."""
        var = self._nn - self._n * self._n
        if var <= 1e-9 * max(1.0, self._n * self._n) or self._n <= 0:
            # one call size seen so far: charge the whole call to its records
            return 0.0, self._t / max(self._n, 1.0)
        slope = (self._nt - self._n * self._t) / var
        per_record = max(slope, 0.0)
        fixed = max(self._t - per_record * self._n, 0.0)
        return fixed, per_record

    def estimate(self, n: int) -> float:
        """Estimated seconds of a call of ``n`` records (0 before any call)."""
        fixed, per_record = self.costs()
        return fixed + per_record * max(1, n)

    def inline(self, n: int) -> bool:
        """True when a call of ``n`` records may run on the event loop."""
        return (self.budget_s > 0 and self.calls >= WARMUP_CALLS
                and self.estimate(n) <= self.budget_s)
