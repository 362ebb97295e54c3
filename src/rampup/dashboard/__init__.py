"""The web dashboard: pages, their JSON panels and static files, served by rampup."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "dashboard_routes": "rampup.dashboard.routes",
}

__all__ = ["dashboard_routes"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.dashboard.routes import dashboard_routes
