"""One local Ray cluster for the whole test session: ``ray start --head --block`` on
127.0.0.1 with 2 CPUs, in its own process group, stopped by its PID (and that group) at
the end. Ray takes seconds to start and runs several processes: the Ray tests are few."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg_cluster import free_port

pytest.importorskip("ray", reason="the Ray engine needs 'rampup[ray]'")


@dataclass
class RayCluster:
    address: str
    pid: int


def _ray() -> str:
    return str(Path(sys.executable).with_name("ray"))


def group_pids(pgid: int) -> list[int]:
    """The processes still in process group ``pgid`` (from ``ps``)."""
    done = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True,
                          check=True)
    return [int(p) for p, g in (line.split() for line in done.stdout.splitlines())
            if int(g) == pgid]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    port = free_port()
    temp = tempfile.mkdtemp(prefix="rt-")  # short: Ray's socket paths must stay short
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    env.pop("RAY_ADDRESS", None)
    log = open(Path(temp) / "head.log", "wb")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen(
        [_ray(), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", temp,
         "--ray-client-server-port", str(free_port())],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        _wait_up(address, proc, Path(temp) / "head.log")
        yield RayCluster(address, proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)  # --block: stops the processes it started
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        deadline = time.time() + 30
        while group_pids(proc.pid) and time.time() < deadline:
            time.sleep(0.5)
        for pid in group_pids(proc.pid):  # our own group only
            os.kill(pid, signal.SIGKILL)
        log.close()


def _wait_up(address: str, proc: subprocess.Popen[bytes], log: Path,
             timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ray start exited: {log.read_text()[-3000:]}")
        status = subprocess.run([_ray(), "status", "--address", address],
                                capture_output=True, text=True)
        if status.returncode == 0:
            return
        time.sleep(1.0)
    raise AssertionError(f"Ray did not start: {log.read_text()[-3000:]}")
