"""Realtime serving: the ASGI app, request validation, routing, micro-batching."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "create_app": "rampup.serving.app",
    "Validator": "rampup.serving.validation",
    "AppState": "rampup.serving.state",
}

__all__ = ["AppState", "Validator", "create_app"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.serving.app import create_app
    from rampup.serving.state import AppState
    from rampup.serving.validation import Validator
