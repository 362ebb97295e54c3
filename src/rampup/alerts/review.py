"""Review alert rules against their history: which never fire, which fire all the time.

A rule that never fired in a month may watch nothing that happens (drop it, or tighten
it if it should have fired); one that fires often or is firing most of the time has a
threshold inside the normal range (loosen it, lengthen its for-duration, or let
``rampup alerts suggest`` propose one). Pure: the caller passes the state-change
history.

>>> day = 86400.0
>>> events = [{"rule": "noisy", "ts": t * day / 4, "state": s}
...           for t, s in enumerate(["pending", "firing", "resolved", "ok"] * 8)]
>>> [(r.rule, r.verdict, r.fired) for r in review_rules(
...     ["noisy", "quiet"], events, since=0.0, until=8 * day)]
[('noisy', 'frequent', 8), ('quiet', 'never_fired', 0)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

Verdict = Literal["never_fired", "always_firing", "frequent", "ok"]
ALWAYS_SHARE = 0.5
FREQUENT_PER_DAY = 1.0


@dataclass(frozen=True)
class RuleReview:
    rule: str
    verdict: Verdict
    fired: int
    per_day: float
    firing_share: float
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def review_rules(rules: Sequence[str], events: Sequence[Mapping[str, Any]], *, since: float,
                 until: float, initial: Mapping[str, str] | None = None,
                 always_share: float = ALWAYS_SHARE,
                 frequent_per_day: float = FREQUENT_PER_DAY) -> list[RuleReview]:
    """Judge each rule from its state changes in ``[since, until)``.

    ``events``: rows with ``rule``, ``ts`` and the ``state`` entered, any order.
    ``initial``: each rule's state at ``since`` (default ``ok``)."""
    span = max(until - since, 1e-9)
    days = span / 86400.0
    by_rule: dict[str, list[Mapping[str, Any]]] = {r: [] for r in rules}
    for e in events:
        if e["rule"] in by_rule and since <= e["ts"] < until:
            by_rule[e["rule"]].append(e)
    out = []
    for rule in rules:
        state = (initial or {}).get(rule, "ok")
        t_prev, firing_s, fired = since, 0.0, 0
        for e in sorted(by_rule[rule], key=lambda e: e["ts"]):
            if state == "firing":
                firing_s += e["ts"] - t_prev
            if e["state"] == "firing" and state != "firing":
                fired += 1
            state, t_prev = e["state"], e["ts"]
        if state == "firing":
            firing_s += until - t_prev
        share = firing_s / span
        per_day = fired / days
        verdict, advice = _verdict(fired, per_day, share, days, always_share,
                                   frequent_per_day)
        out.append(RuleReview(rule, verdict, fired, round(per_day, 3), round(share, 4),
                              advice))
    return out


def _verdict(fired: int, per_day: float, share: float, days: float, always_share: float,
             frequent_per_day: float) -> tuple[Verdict, str]:
    period = f"{days:.3g} days"
    if share >= always_share:
        return "always_firing", (f"firing {share:.0%} of the last {period}: the threshold is "
                                 "inside the normal range; loosen it (see 'rampup alerts "
                                 "suggest') or drop the rule")
    if fired == 0:
        return "never_fired", (f"never fired in {period}: drop it, or tighten the threshold "
                               "if it should have caught something")
    if per_day >= frequent_per_day:
        return "frequent", (f"fired {fired} times in {period} ({per_day:.2g}/day): raise the "
                            "threshold or lengthen 'for' so it fires on real incidents only")
    return "ok", f"fired {fired} times in {period}"
