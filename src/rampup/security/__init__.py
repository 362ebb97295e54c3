"""Credentials, privacy of the prediction log, retention and erasure.

Pure logic lives here (token hashing, the privacy policy, retention plans); the store
keeps the rows (:mod:`rampup.store.credentials`, :mod:`rampup.store.predictions`) and the
HTTP edge enforces it (:mod:`rampup.serving.auth`, :mod:`rampup.serving.guard`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rampup._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Privacy": "rampup.security.privacy",
    "load_privacy": "rampup.security.privacy",
    "apply_retention": "rampup.security.retention",
    "start_retention": "rampup.security.retention",
    "forget": "rampup.security.erase",
    "Principal": "rampup.security.tokens",
}

__all__ = ["Principal", "Privacy", "apply_retention", "forget", "load_privacy", "start_retention"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from rampup.security.erase import forget
    from rampup.security.privacy import Privacy, load_privacy
    from rampup.security.retention import apply_retention, start_retention
    from rampup.security.tokens import Principal
