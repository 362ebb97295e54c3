"""Driving ``wrk``: a Lua script that POSTs JSON bodies, and its machine-readable result.

>>> script = lua_script([{"a": 1.5}, {"a": 2.0}])
>>> '[==[{"a":1.5}]==]' in script
True
>>> r = parse_output('noise\\nRESULT {"requests": 10, "duration_us": 2000000, "p50_us": 900}')
>>> r["requests"], r["req_per_s"]
(10, 5.0)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

INSTALL_HINT = ("wrk (the HTTP load generator) is not installed. On Debian/Ubuntu:\n"
                "    sudo apt-get update && sudo apt-get install -y wrk\n"
                "(macOS: brew install wrk)")

# One wrk thread: its request() callback cycles through the bodies; done() prints a JSON
# line the runner parses (latencies in microseconds, from wrk's own HDR-style histogram).
_LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {
%(bodies)s
}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect_errors": %%d, '
    .. '"read_errors": %%d, "write_errors": %%d, "status_errors": %%d, "timeouts": %%d, '
    .. '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "p999_us": %%d, "max_us": %%d, '
    .. '"mean_us": %%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].split(" Copyright")[0].strip() if lines else "unknown"


def lua_script(bodies: Sequence[dict[str, Any]]) -> str:
    quoted = []
    for body in bodies:
        text = orjson.dumps(body).decode()
        if "]==]" in text:  # cannot happen for flat numeric records; keep the quoting safe
            raise ValueError("a body contains the Lua long-string terminator ]==]")
        quoted.append(f"  [==[{text}]==],")
    return _LUA % {"bodies": "\n".join(quoted)}


def parse_output(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            r: dict[str, Any] = json.loads(line[len("RESULT "):])
            seconds = r["duration_us"] / 1e6
            r["req_per_s"] = r["requests"] / seconds if seconds > 0 else 0.0
            r["errors"] = sum(r.get(k, 0) for k in (
                "connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
            return r
    raise RuntimeError(f"wrk printed no RESULT line; its output was:\n{stdout}")


def run_wrk(wrk: str, url: str, script: Path, *, connections: int, seconds: float,
            cpu: int | None) -> dict[str, Any]:
    """Run wrk (one thread) for ``seconds`` at ``connections`` and return its result."""
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
           "-s", str(script), url]

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    out = subprocess.run(cmd, capture_output=True, text=True, check=False, preexec_fn=pin,
                         timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr or out.stdout}")
    return parse_output(out.stdout)
