"""Sticky, monotone routing: ``bucket = hash(salt, key) mod 10000``.

A request with a key always lands in the same bucket, and versions own contiguous
bucket ranges (canaries first), so growing a canary from 5% to 25% keeps everyone who
was on it. Requests without a key draw a bucket at random.

>>> p = DeploymentPolicy.from_dict({"routes": {"v1": 90, "v2": 10}})
>>> r = Router(p)
>>> r.route("user-42") == r.route("user-42")
True
>>> bucket("rampup", "user-42") < 10_000
True
"""

from __future__ import annotations

import hashlib
import random

from rampup.rollout.policy import TOTAL_BP, DeploymentPolicy


def bucket(salt: str, key: str) -> int:
    """Stable across processes and machines (unlike ``hash()``)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, key=salt.encode()[:64]).digest()
    return int.from_bytes(digest, "big") % TOTAL_BP


class Router:
    """Chooses the answering version for one request (pure; randomness injected)."""

    __slots__ = ("_bounds", "_mirrors", "_rng", "policy")

    def __init__(self, policy: DeploymentPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self._rng = rng or random.Random()
        bounds: list[tuple[int, str]] = []
        upper = 0
        for version, bp in policy.weights_bp():
            if bp <= 0:
                continue
            upper += bp
            bounds.append((upper, version))
        self._bounds = bounds
        self._mirrors = [(v, pct / 100.0) for v, pct in policy.mirrors.items() if pct > 0]

    def route(self, key: str | None) -> str:
        return self.assign(key)[0]

    def assign(self, key: str | None) -> tuple[str, int]:
        """(version, bucket): the bucket is the key's hash, or a random draw without a key."""
        if len(self._bounds) == 1 and not key:
            return self._bounds[0][1], -1
        b = bucket(self.policy.salt, key) if key else self._rng.randrange(TOTAL_BP)
        for upper, version in self._bounds:
            if b < upper:
                return version, b
        return self._bounds[-1][1], b

    def mirrors(self) -> list[str]:
        """Versions this request is copied to (each sampled independently)."""
        if not self._mirrors:
            return []
        return [v for v, p in self._mirrors if p >= 1.0 or self._rng.random() < p]
