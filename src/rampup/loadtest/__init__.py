"""``rampup loadtest``: an open-loop load generator that judges a model's SLOs.

Pure parts: :mod:`.schedule` (when each request is due), :mod:`.latencies` (exact
quantiles, histogram), :mod:`.verdict` (windows, generator self-check, SLO verdicts).
I/O at the edges: :mod:`.client` (HTTP/1.1 over asyncio streams), :mod:`.runner`
(one or several generator processes), :mod:`.bodies` (what to send), :mod:`.render`
(the terminal report). The command itself is :mod:`rampup.cli.loadtest_cmds`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "load_test": "rampup.loadtest.service",
}

__all__ = ["load_test"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.loadtest.service import load_test
