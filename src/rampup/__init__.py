"""rampup: from proof of concept to production for machine-learning models."""

from __future__ import annotations

__version__ = "0.1.0"
