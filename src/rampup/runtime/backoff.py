"""How long a supervisor waits before restarting a worker that died. Pure: no clock,
no threads, no randomness of its own (pass ``rand`` to get jitter).

The delay grows geometrically with the number of consecutive crashes, up to a ceiling;
a worker that ran healthily for ``reset_after`` seconds before it died starts the count
again, so one crash a day never reaches the ceiling while a crash loop quickly does.

>>> b = Backoff(initial=0.5, factor=2.0, maximum=30.0, jitter=0.0)
>>> [b.delay(n) for n in (1, 2, 3, 4, 10)]
[0.5, 1.0, 2.0, 4.0, 30.0]
>>> b.next_streak(3, ran_for=5.0), b.next_streak(3, ran_for=120.0)
(4, 1)
>>> Backoff(initial=1.0, jitter=0.5).delay(1, rand=lambda: 0.5)
0.75
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Restart delays: ``initial * factor**(streak - 1)``, at most ``maximum``, minus up
    to ``jitter`` (a fraction) so replicas that crashed together do not retry in step."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    reset_after: float = 60.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        if self.factor < 1:
            raise ValueError("backoff factor must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("backoff jitter is a fraction in [0, 1)")

    def delay(self, streak: int, rand: Callable[[], float] | None = None) -> float:
        """Seconds to wait before restart number ``streak`` of a crash streak (>= 1).
        ``rand`` returns a number in [0, 1); without it there is no jitter."""
        n = max(1, streak)
        # the exponent is capped so a long streak cannot overflow the float
        base = min(self.maximum, self.initial * self.factor ** min(n - 1, 64))
        if rand is None or self.jitter == 0:
            return base
        return base * (1.0 - self.jitter * rand())

    def next_streak(self, streak: int, *, ran_for: float) -> int:
        """The streak after a crash that ended a run of ``ran_for`` seconds."""
        return 1 if ran_for >= self.reset_after else streak + 1
