"""One local Ray cluster for the whole test session: ``ray start --head --block`` on
127.0.0.1 with 2 CPUs, in its own process group, stopped by its PID (and that group) at
the end. Ray takes seconds to start and runs several processes: the Ray tests are few.

Ray's token configuration is isolated. A head that finds a token in ``~/.ray/auth_token``
(left by any earlier ``ray get-auth-token --generate``) refuses every client with
``InvalidAuthToken``, even with ``RAY_AUTH_MODE`` unset. So the head, every ``ray`` CLI
call and every driver that joins it (the test process itself during a Ray test, and the
``rampup`` subprocesses the tests start) run with ``HOME`` set to the session's own folder
and without the ``RAY_AUTH_*`` variables: see :meth:`RayCluster.env`. The session starts
its head from a *poisoned* environment (a user home with a bogus token file and
``RAY_AUTH_TOKEN_PATH`` pointing at it), so every Ray test run proves the isolation."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg_cluster import free_port

pytest.importorskip("ray", reason="the Ray engine needs 'rampup[ray]'")

# what Ray reads its token (and the cluster to join) from, besides $HOME/.ray/auth_token
RAY_PRIVATE = ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
BOGUS_TOKEN = "stray-token-from-another-cluster-0123456789abcdef"


def ray_env(base: Mapping[str, str], home: Path) -> dict[str, str]:
    """``base`` with ``HOME`` set to ``home`` and no Ray token or address variables."""
    env = {k: v for k, v in base.items() if k not in RAY_PRIVATE}
    env.update(HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
    return env


@dataclass
class RayCluster:
    address: str
    pid: int
    home: Path  # the HOME every process that talks to this cluster runs with

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a subprocess that joins this cluster."""
        return ray_env(os.environ if base is None else base, self.home)


def _ray() -> str:
    return str(Path(sys.executable).with_name("ray"))


def group_pids(pgid: int) -> list[int]:
    """The processes still in process group ``pgid`` (from ``ps``)."""
    done = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True,
                          check=True)
    return [int(p) for p, g in (line.split() for line in done.stdout.splitlines())
            if int(g) == pgid]


def processes_under(folder: Path) -> list[int]:
    """The processes whose command line names ``folder`` (a head's temp folder)."""
    done = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True,
                          check=True)
    me = os.getpid()
    return [int(line.split(None, 1)[0]) for line in done.stdout.splitlines()
            if str(folder) in line and int(line.split(None, 1)[0]) != me]


def poisoned_home(root: Path) -> Path:
    """A user home holding a token no cluster of ours was started with."""
    home = root / "user-home"
    (home / ".ray").mkdir(parents=True, exist_ok=True)
    (home / ".ray" / "auth_token").write_text(BOGUS_TOKEN)
    return home


def poisoned_env(root: Path) -> dict[str, str]:
    """The test process's environment as if its user had a stray Ray token."""
    home = poisoned_home(root)
    return {**os.environ, "HOME": str(home),
            "RAY_AUTH_TOKEN_PATH": str(home / ".ray" / "auth_token")}


@contextlib.contextmanager
def ray_head(base: Mapping[str, str], num_cpus: int = 2) -> Iterator[RayCluster]:
    """A Ray head on 127.0.0.1 started from environment ``base`` (isolated from its token
    configuration), stopped with every process of its group on exit."""
    port = free_port()
    temp = Path(tempfile.mkdtemp(prefix="rt-"))  # short: Ray's socket paths must stay short
    home = temp / "home"
    home.mkdir()
    log = open(temp / "head.log", "wb")  # noqa: SIM115 - closed at the end
    proc = subprocess.Popen(
        [_ray(), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", str(num_cpus), "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", str(temp / "t"),
         "--ray-client-server-port", str(free_port())],
        env=ray_env(base, home), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    cluster = RayCluster(f"127.0.0.1:{port}", proc.pid, home)
    try:
        _wait_up(cluster, proc, temp / "head.log")
        yield cluster
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
        # a Ray process that left the group (its own session) still names our temp folder
        for pid in processes_under(temp):
            os.kill(pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    with ray_head(poisoned_env(tmp_path_factory.mktemp("ray-user"))) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _driver_home(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ray test's own process (``ray.init`` of an in-process CLI run) reads its token
    configuration like the head does: point it at the cluster's HOME for the test."""
    if "ray_cluster" not in request.fixturenames:
        return
    cluster: RayCluster = request.getfixturevalue("ray_cluster")
    for name in RAY_PRIVATE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(cluster.home))


def ray_status(cluster: RayCluster, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_ray(), "status", "--address", cluster.address],
                          capture_output=True, text=True, env=dict(env), timeout=120)


def _wait_up(cluster: RayCluster, proc: subprocess.Popen[bytes], log: Path,
             timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"ray start exited: {log.read_text()[-3000:]}")
        if ray_status(cluster, cluster.env()).returncode == 0:
            return
        time.sleep(1.0)
    raise AssertionError(f"Ray did not start: {log.read_text()[-3000:]}")
