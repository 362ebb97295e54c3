"""An open-loop reference for ``benchmarks/loadtest.py``: ``wrk`` driven by a Lua schedule.

wrk2 (wrk with a fixed request rate) is not packaged in Debian; wrk is, and its Lua
``delay()`` hook can hold each connection until the next request's due time on a fixed
schedule (``t0 + i / rate``, read from ``clock_gettime`` through LuaJIT's FFI). With
enough connections that no request waits for a busy one, this *is* open loop: send
times do not depend on answers. wrk still measures each latency from the actual send
(in its own µs histogram); a request whose connection was still busy at its due time
is counted as **late** — then wrk is closed-loop at that point and its numbers are not
an open-loop reference (the benchmark reports the late share and refuses that row).

>>> script = lua_script([{"a": 1.5}], rate=200.0)
>>> "local RATE = 200.0" in script and "clock_gettime" in script
True
>>> r = parse('x\\nRESULT {"requests": 10, "late": 0, "p50_us": 900, "duration_us": 1000000}')
>>> r["requests"], r["late_share"], r["p50_ms"]
(10, 0.0, 0.9)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import orjson

_LUA = """\
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } rampup_timespec;
int clock_gettime(int clk_id, rampup_timespec *tp);
]]
local ts = ffi.new("rampup_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local RATE = %(rate)r
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {
%(bodies)s
}
local nbody = 0
local t0 = nil
local index = 0
late = 0
scheduled = 0

request = function()
  nbody = nbody %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[nbody])
end

delay = function()
  local t = now()
  if t0 == nil then t0 = t + 0.05 end
  local due = t0 + index / RATE
  index = index + 1
  scheduled = scheduled + 1
  if t - due > 0.001 then late = late + 1 end
  local wait = (due - t) * 1000
  if wait < 0 then return 0 end
  return wait
end

local threads = {}
setup = function(thread) table.insert(threads, thread) end

done = function(summary, latency, requests)
  local n_late, n_sched = 0, 0
  for _, th in ipairs(threads) do
    n_late = n_late + th:get("late")
    n_sched = n_sched + th:get("scheduled")
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "duration_us": %%d, "late": %%d, "scheduled": %%d, '
    .. '"errors": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, n_late, n_sched,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def lua_script(bodies: Sequence[Any], rate: float) -> str:
    quoted = []
    for body in bodies:
        text = orjson.dumps(body).decode()
        if "]==]" in text:
            raise ValueError("a body contains the Lua long-string terminator ]==]")
        quoted.append(f"  [==[{text}]==],")
    return _LUA % {"rate": float(rate), "bodies": "\n".join(quoted)}


def parse(stdout: str) -> dict[str, Any]:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            r: dict[str, Any] = json.loads(line[len("RESULT "):])
            r["late_share"] = r["late"] / r["requests"] if r["requests"] else 0.0
            for q in ("p50", "p90", "p99", "max"):
                if f"{q}_us" in r:
                    r[f"{q}_ms"] = r[f"{q}_us"] / 1000
            r["req_per_s"] = r["requests"] / (r["duration_us"] / 1e6)
            return r
    raise RuntimeError(f"wrk printed no RESULT line; its output was:\n{stdout}")
