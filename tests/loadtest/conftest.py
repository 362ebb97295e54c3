"""A real ``rampup serve`` on a free port with a fast and a slow model (both Python-flavor).

The server is one subprocess for the whole module, started and stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent

PROJECT = """\
models:
  fast:
    versions:
      v1: {{artifact: "{models}:Fast", flavor: python, reference: reference.csv}}
    batching: {{enabled: false}}
    slo: {{latency_p99_ms: 3000, max_error_rate: 0.01, expected_qps: 20}}
  slow:
    versions:
      v1: {{artifact: "{models}:Slow", flavor: python, reference: reference.csv}}
    slo: {{latency_p99_ms: 50}}
"""


@dataclass(frozen=True)
class Served:
    url: str
    project: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "models.py", root / "models.py")
    lines = ["x,kind"] + [f"{i / 10},{'ab'[i % 2]}" for i in range(200)]
    (root / "reference.csv").write_text("\n".join(lines) + "\n")
    (root / "rampup.yaml").write_text(PROJECT.format(models=root / "models.py"))
    return root


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = write_project(tmp_path_factory.mktemp("loadtest") / "proj")
    port = free_port()
    env = {**os.environ, "RAMPUP_MONITOR": "true"}
    env.pop("RAMPUP_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "rampup", "-p", str(root), "serve",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"server exited: {out}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise AssertionError("server did not become ready in 120 s")
            time.sleep(0.2)
        yield Served(url, root)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
