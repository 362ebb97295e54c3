from __future__ import annotations

import random

import pytest

from rampup.errors import ValidationError
from rampup.rollout.policy import DeploymentPolicy
from rampup.rollout.router import Router, bucket


def test_bucket_is_stable_and_salted() -> None:
    assert bucket("s", "user-1") == bucket("s", "user-1")
    assert 0 <= bucket("s", "user-1") < 10_000
    diffs = sum(bucket("a", f"u{i}") != bucket("b", f"u{i}") for i in range(100))
    assert diffs > 90


def test_weights_are_respected() -> None:
    router = Router(DeploymentPolicy.from_dict({"routes": {"v1": 80, "v2": 20}}),
                    random.Random(1))
    picks = [router.route(f"user-{i}") for i in range(20_000)]
    share = picks.count("v2") / len(picks)
    assert 0.19 < share < 0.21
    keyless = [router.route(None) for _ in range(20_000)]
    assert 0.19 < keyless.count("v2") / len(keyless) < 0.21


def test_sticky_and_monotone_when_canary_grows() -> None:
    users = [f"user-{i}" for i in range(5000)]
    on_canary: set[str] = set()
    for weight in (5, 25, 50, 75, 100):
        routes = {"v2": weight, "v1": 100 - weight} if weight < 100 else {"v2": 100}
        router = Router(DeploymentPolicy.from_dict({"routes": routes}))
        now = {u for u in users if router.route(u) == "v2"}
        assert on_canary <= now, "a user on the canary was moved back"
        on_canary = now
    assert len(on_canary) == len(users)


def test_canary_listed_first_owns_the_lowest_buckets() -> None:
    from rampup.rollout.router import bucket

    router = Router(DeploymentPolicy.from_dict({"routes": {"v2": 25, "v1": 75}}))
    for i in range(2000):
        key = f"k{i}"
        assert (router.route(key) == "v2") == (bucket("rampup", key) < 2500)


def test_policy_validation() -> None:
    with pytest.raises(ValidationError, match="sum to 90"):
        DeploymentPolicy(routes={"v1": 90})
    with pytest.raises(ValidationError, match="at least one route"):
        DeploymentPolicy(routes={})
    with pytest.raises(ValidationError, match="out of range"):
        DeploymentPolicy(routes={"v1": 100}, mirrors={"v2": 150})


def test_policy_round_trip_and_versions() -> None:
    p = DeploymentPolicy(routes={"v1": 100}, mirrors={"v3": 10}, standby="v0")
    assert DeploymentPolicy.from_dict(p.to_dict()) == p
    assert p.versions() == {"v0", "v1", "v3"}


def test_mirror_sampling() -> None:
    router = Router(DeploymentPolicy(routes={"v1": 100}, mirrors={"v2": 30, "v3": 100}),
                    random.Random(3))
    picks = [router.mirrors() for _ in range(10_000)]
    assert all("v3" in p for p in picks)
    assert 0.28 < sum("v2" in p for p in picks) / len(picks) < 0.32
