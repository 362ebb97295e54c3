"""Where a version came from: who, which Python and libraries, which git commit, which data.

>>> md = build_metadata({"params": {"C": 1.0}}, actor="ci", libraries={"scikit-learn": "1.5"},
...                     git_commit=None, data_hash="sha256:ab", source="m.joblib")
>>> md["params"], md["created_by"], md["training_data_hash"]
({'C': 1.0}, 'ci', 'sha256:ab')
>>> "git_commit" in md
False
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any


def git_commit(folder: Path | None) -> str | None:
    """``git rev-parse HEAD`` in ``folder``, or ``None`` (not a repository, no git, ...)."""
    if folder is None or not folder.is_dir():
        return None
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit or None


def build_metadata(user: dict[str, Any] | None, *, actor: str, libraries: dict[str, str],
                   git_commit: str | None, data_hash: str | None,
                   source: str) -> dict[str, Any]:
    """User metadata (params, metrics, anything JSON-able) plus what rampup records itself.

    rampup's own keys win over user keys of the same name: they are facts, not claims.
    """
    out: dict[str, Any] = dict(user or {})
    out.setdefault("params", {})
    out.setdefault("metrics", {})
    out.update({"created_by": actor, "python": platform.python_version(),
                "libraries": libraries, "source": source})
    if git_commit:
        out["git_commit"] = git_commit
    if data_hash:
        out["training_data_hash"] = data_hash
    return out
