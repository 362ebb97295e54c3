"""Degrees of automation (human only → shadow → AI assistance → partial → full) and the
human review queue: levels, confidence, review items, label consistency, advice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Automation": "rampup.automation.service",
    "AutomationSpec": "rampup.automation.spec",
    "ReviewQueue": "rampup.automation.queue",
    "AutomationRuntime": "rampup.automation.runtime",
    "AutomationHost": "rampup.automation.runtime",
    "start_automation": "rampup.automation.runtime",
    "Calibrator": "rampup.automation.confidence",
    "fit_calibrator": "rampup.automation.confidence",
}

__all__ = ["Automation", "AutomationHost", "AutomationRuntime", "AutomationSpec", "Calibrator",
           "ReviewQueue", "fit_calibrator", "start_automation"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.automation.confidence import Calibrator, fit_calibrator
    from rampup.automation.queue import ReviewQueue
    from rampup.automation.runtime import AutomationHost, AutomationRuntime, start_automation
    from rampup.automation.service import Automation
    from rampup.automation.spec import AutomationSpec
