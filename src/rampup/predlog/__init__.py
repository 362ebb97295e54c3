"""The prediction log: the background writer, feedback (labels and user events) and export."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "LogWriter": "rampup.predlog.writer",
    "PredictionRecord": "rampup.predlog.writer",
    "FeedbackItem": "rampup.predlog.feedback",
    "export_predictions": "rampup.predlog.export",
    "new_id": "rampup.predlog.ids",
}

__all__ = ["FeedbackItem", "LogWriter", "PredictionRecord", "export_predictions", "new_id"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.predlog.export import export_predictions
    from rampup.predlog.feedback import FeedbackItem
    from rampup.predlog.ids import new_id
    from rampup.predlog.writer import LogWriter, PredictionRecord
