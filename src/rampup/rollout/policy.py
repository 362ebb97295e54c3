"""The traffic policy of a model: weighted routes, mirrors, a warm standby.

Plain data; every change is stored as a new row of the deployment history.

>>> p = DeploymentPolicy.from_dict({"routes": {"v1": 95, "v2": 5}})
>>> p.primary
'v1'
>>> p.weights_bp()
[('v1', 9500), ('v2', 500)]
>>> sorted(p.versions())
['v1', 'v2']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rampup.errors import ValidationError

TOTAL_BP = 10_000


@dataclass(frozen=True)
class DeploymentPolicy:
    """``routes``: version -> share of traffic in percent (sums to 100).
    ``mirrors``: version -> percent of requests copied to it in shadow.
    ``standby``: a version kept loaded and warm for an instant blue/green switch.
    ``salt``: mixed into the sticky hash; changing it reshuffles users.
    """

    routes: dict[str, float]
    mirrors: dict[str, float] = field(default_factory=dict)
    standby: str | None = None
    salt: str = "rampup"

    def __post_init__(self) -> None:
        if not self.routes:
            raise ValidationError("a deployment needs at least one route",
                                  fix="give routes like {'v1': 100}", field="routes")
        for name, w in {**self.routes, **self.mirrors}.items():
            if not 0 <= float(w) <= 100:
                raise ValidationError(f"weight {w!r} for version {name!r} is out of range",
                                      fix="use a percentage between 0 and 100", field=name)
        total = sum(float(w) for w in self.routes.values())
        if abs(total - 100.0) > 1e-6:
            raise ValidationError(f"route weights sum to {total:g}, not 100",
                                  fix="make the percentages of all routes add up to 100",
                                  field="routes")

    @property
    def primary(self) -> str:
        """The version with the largest share (the stable one); ties go to the first listed."""
        return max(self.routes, key=lambda v: (self.routes[v], -list(self.routes).index(v)))

    def weights_bp(self) -> list[tuple[str, int]]:
        """Routes as basis points, in the order they are listed: the first version owns the
        lowest buckets, the next one the following range, and so on.

        With a fixed order, assignment is monotone: when a version's weight grows, every
        key that was on it stays on it. Rollouts list the candidate first, so the canary
        is exactly ``bucket < weight_bp``. The last route absorbs rounding.
        """
        out: list[tuple[str, int]] = []
        used = 0
        items = list(self.routes.items())
        for version, w in items[:-1]:
            bp = round(float(w) * 100)
            out.append((version, bp))
            used += bp
        out.append((items[-1][0], TOTAL_BP - used))
        return out

    def versions(self) -> set[str]:
        """Every version this policy needs loaded."""
        vs = {v for v, w in self.routes.items() if w > 0} | set(self.mirrors)
        if self.standby:
            vs.add(self.standby)
        return vs

    def to_dict(self) -> dict[str, Any]:
        return {"routes": dict(self.routes), "mirrors": dict(self.mirrors),
                "standby": self.standby, "salt": self.salt}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeploymentPolicy:
        return cls(routes={str(k): float(v) for k, v in d.get("routes", {}).items()},
                   mirrors={str(k): float(v) for k, v in (d.get("mirrors") or {}).items()},
                   standby=d.get("standby"), salt=str(d.get("salt") or "rampup"))

    @classmethod
    def single(cls, version: str) -> DeploymentPolicy:
        return cls(routes={version: 100.0})
