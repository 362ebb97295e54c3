"""Which version answers each row of a batch: the realtime router, row by row.

A row with a key goes where a realtime request with that key goes (sticky); a row
without one draws at random, as a keyless request does. Keys are the key column's
values as text, cut to 255 characters, like the realtime request key.

>>> from rampup.rollout.policy import DeploymentPolicy
>>> router = Router(DeploymentPolicy.from_dict({"routes": {"v1": 70, "v2": 30}}))
>>> chosen = assign_versions(router, ["u1", "u2", "u1"], 3)
>>> chosen[0] == chosen[2] == router.route("u1")
True
>>> row_keys([42, None, "a"])
['42', None, 'a']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rampup.batch.columns import Arr
from rampup.rollout.router import Router

MAX_KEY_LENGTH = 255


def row_keys(values: Sequence[Any]) -> list[str | None]:
    return [None if v is None else str(v)[:MAX_KEY_LENGTH] for v in values]


def assign_versions(router: Router, keys: Sequence[str | None] | None, n: int) -> Arr:
    """The version for each of ``n`` rows (an object array of version names)."""
    out = np.empty(n, dtype=object)
    if keys is None:
        out[:] = [router.route(None) for _ in range(n)]
        return out
    seen: dict[str, str] = {}
    for i, key in enumerate(keys):
        if not key:
            out[i] = router.route(None)
            continue
        version = seen.get(key)
        if version is None:
            version = seen[key] = router.route(key)
        out[i] = version
    return out


def groups(assigned: Arr) -> list[tuple[str, Arr]]:
    """(version, row positions) in order of first appearance.

    >>> [(v, p.tolist()) for v, p in groups(np.array(["b", "a", "b"], dtype=object))]
    [('b', [0, 2]), ('a', [1])]
    """
    names, first = np.unique(assigned.astype(str), return_index=True)
    order = np.argsort(first)
    return [(str(names[k]), np.flatnonzero(assigned == names[k])) for k in order]
