"""The Ray test cluster ignores a stray Ray token of the user running the tests, and
leaves no process behind: a head started from a poisoned environment (a bogus
``~/.ray/auth_token`` and ``RAY_AUTH_TOKEN_PATH``) answers ``ray status`` and runs a
driver's task, and once stopped none of its processes is left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.ray.conftest import (
    RAY_PRIVATE,
    RayCluster,
    group_pids,
    poisoned_env,
    processes_under,
    ray_env,
    ray_head,
    ray_status,
)

DRIVER = ("import sys, ray\n"
          "ray.init(address=sys.argv[1], include_dashboard=False, logging_level='ERROR')\n"
          "print(ray.get(ray.remote(lambda: 6 * 7).remote()))\n")


def test_the_environment_drops_the_token_settings(tmp_path: Path) -> None:
    env = ray_env(poisoned_env(tmp_path), tmp_path / "clean")
    assert env["HOME"] == str(tmp_path / "clean")
    assert not set(RAY_PRIVATE) & set(env)


@pytest.mark.slow
def test_a_head_started_beside_a_stray_token_serves_and_stops_clean(
        tmp_path: Path, ray_cluster: RayCluster) -> None:
    poisoned = poisoned_env(tmp_path)
    # the session's cluster was started from a poisoned environment too
    assert ray_status(ray_cluster, ray_cluster.env(poisoned)).returncode == 0
    with ray_head(poisoned, num_cpus=1) as head:
        status = ray_status(head, head.env(poisoned))
        assert status.returncode == 0, status.stderr[-2000:]
        driver = subprocess.run([sys.executable, "-c", DRIVER, head.address],
                                env=head.env(poisoned), capture_output=True, text=True,
                                timeout=300)
        assert driver.returncode == 0, driver.stderr[-2000:]
        assert driver.stdout.strip().splitlines()[-1] == "42"
        pid = head.pid
        temp = head.home.parent
    assert group_pids(pid) == []
    assert processes_under(temp) == []
