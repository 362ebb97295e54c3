"""Smoke tests of benchmarks/loadtest.py's parts: the null server answers the generator,
the open-loop wrk reference runs and reports its late sends. No timing assertions."""

from __future__ import annotations

import doctest
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import rampup

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


openloop = _load("_openloop")


def test_docstring_examples() -> None:
    assert doctest.testmod(openloop).failed == 0


@pytest.fixture
def null_server() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(BENCH / "_nullserver.py"), "--port",
                             str(port)])
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, "the null server exited"
            assert time.monotonic() < deadline, "the null server did not listen in 60 s"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1/models/null/predict"
    finally:
        proc.terminate()
        proc.wait(30)


def test_generator_against_the_null_server(null_server: str) -> None:
    report = rampup.load_test(null_server, [b'{"x": 1}'], 200, 1.0)
    assert report.outcomes == {"ok": 200}
    assert report.requests == 200


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_open_loop_reference_runs(null_server: str, tmp_path: Path) -> None:
    script = tmp_path / "ref.lua"
    script.write_text(openloop.lua_script([{"x": 1}], rate=100.0))
    out = subprocess.run(["wrk", "-t1", "-c16", "-d1s", "-s", str(script), null_server],
                         capture_output=True, text=True, check=True, timeout=60)
    r = openloop.parse(out.stdout)
    assert 50 <= r["requests"] <= 150  # about 100 req/s for about a second
    assert r["scheduled"] >= r["requests"]
    assert 0 <= r["late_share"] <= 1
