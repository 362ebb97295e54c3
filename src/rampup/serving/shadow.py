"""Mirrored (shadow) requests: run off the hot path, bounded, with a timeout.

The caller's response never waits for a mirror. At most ``max_in_flight`` mirrored
calls run at once; beyond that a mirror is dropped and counted. A mirror that times
out or raises is logged with its error, role ``shadow``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from rampup.errors import RampupError
from rampup.predlog.writer import PredictionRecord
from rampup.serving.runtime import LoadedVersion
from rampup.serving.state import AppState

log = logging.getLogger("rampup.serving")


def schedule(st: AppState, model: str, versions: list[str], records: list[Any],
             ids: list[str], request_id: str, key: str | None) -> None:
    served = st.runtime.models.get(model)
    if served is None:
        return
    for version in versions:
        lv = served.versions.get(version)
        if lv is None:
            continue
        if len(st.shadow_tasks) >= st.settings.shadow_max_in_flight:
            st.metrics.shadow.labels(model, version, "dropped").inc()
            continue
        task = asyncio.create_task(_mirror(st, model, lv, records, ids, request_id, key))
        st.shadow_tasks.add(task)
        task.add_done_callback(st.shadow_tasks.discard)


async def _mirror(st: AppState, model: str, lv: LoadedVersion, records: list[Any],
                  ids: list[str], request_id: str, key: str | None) -> None:
    t0 = time.perf_counter()
    outputs: list[dict[str, Any]] | None = None
    confidence: list[float | None] | None = None
    error: str | None = None
    outcome = "ok"
    timeout = st.settings.shadow_timeout
    try:
        batch = lv.validator.validate(records)
        out = await asyncio.wait_for(lv.run(batch, st.runtime.shadow_executor), timeout)
        outputs = [out.record(i) for i in range(len(out))]
        confidence = out.confidence
    except TimeoutError:
        error, outcome = f"shadow call timed out after {timeout:g} s", "timeout"
    except RampupError as exc:
        error, outcome = exc.message, "error"
    except Exception as exc:
        error, outcome = f"{type(exc).__name__}: {exc}"[:500], "error"
    latency = (time.perf_counter() - t0) * 1000.0
    st.metrics.shadow.labels(model, lv.name, outcome).inc()
    now = time.time()
    recs = [PredictionRecord(f"{pid}~{lv.name}", request_id, now, model, lv.name, "shadow",
                             records[i], outputs[i] if outputs else None,
                             confidence[i] if confidence else None, latency, error, key)
            for i, pid in enumerate(ids)]
    st.protect(recs)  # privacy rules first: the monitor never sees a protected value
    if st.monitor is not None:
        st.monitor.offer(recs)
    if not st.writer.try_submit(recs):
        st.metrics.log_dropped.inc(len(recs))
        st.writer.stats.dropped += len(recs)
