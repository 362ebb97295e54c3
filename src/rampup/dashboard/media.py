"""A sample of recent image/audio inputs for the dashboard, when privacy allows.

The prediction log keeps only a summary of an image or audio input (format, size,
content hash, input metrics); the bytes themselves are kept only when the operator sets
``RAMPUP_INPUT_BYTES_DIR`` (one file per content hash), and never for a field a privacy
rule protects (``drop``/``hash``/``mask``: the value is scrubbed before the log writer sees
it). So the dashboard shows a sample of inputs for a window only when both allow it, and
otherwise says why. :func:`sample` picks the rows (pure over the rows it is given);
:func:`input_file` resolves a content hash to its kept file (names are checked, nothing
outside the folder is ever read).

>>> rows = [{"id": "a", "ts": 1.0, "stage": None, "inputs": {"audio": {"type": "audio",
...          "format": "wav", "sha256": "ab" * 32, "metrics": {"rms_dbfs": -20.0}}}}]
>>> s = sample(rows, protected={}, limit=5)
>>> [(i["feature"], i["type"], i["file"]) for i in s["items"]]
[('audio', 'audio', 'abababababababababababababababababababababababababababababababab.wav')]
>>> sample(rows, protected={"audio": "hash"}, limit=5)["items"]
[]
>>> input_file(Path("/kept"), "../etc/passwd") is None
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MEDIA_TYPES = {"wav": "audio/wav", "flac": "audio/flac", "png": "image/png",
               "jpeg": "image/jpeg", "jpg": "image/jpeg"}
_FILE = re.compile(r"^(?P<sha>[0-9a-f]{64})\.(?P<ext>wav|flac|png|jpeg|jpg)$")
MAX_SCAN = 20_000  # rows read for one sample at most


def _media(value: Any) -> dict[str, Any] | None:
    if isinstance(value, Mapping) and value.get("type") in ("image", "audio") \
            and isinstance(value.get("sha256"), str):
        return dict(value)
    return None


def sample(rows: Iterable[Mapping[str, Any]], *, protected: Mapping[str, str], limit: int,
           stage: str | None = None) -> dict[str, Any]:
    """The newest ``limit`` media inputs of ``rows`` (oldest first in, as the store
    streams them): one item per row and unprotected media field, with its summary and the
    name of the kept file to fetch. ``stage``: only that stage tag's rows."""
    items: list[dict[str, Any]] = []
    hidden: set[str] = set()
    for n, row in enumerate(rows):
        if n >= MAX_SCAN:
            break
        if stage is not None and row.get("stage") != stage:
            continue
        inputs = row.get("inputs")
        if isinstance(inputs, str | bytes) and inputs[:1] in ("{", b"{"):
            try:
                inputs = json.loads(inputs)  # the store hands the log's JSON text back
            except ValueError:
                continue
        if not isinstance(inputs, Mapping):
            continue
        for feature, value in inputs.items():
            media = _media(value)
            if media is None:
                continue
            if feature in protected:
                hidden.add(feature)
                continue
            fmt = str(media.get("format") or "").lower()
            if fmt not in MEDIA_TYPES:
                continue
            items.append({"id": row.get("id"), "ts": row.get("ts"),
                          "version": row.get("version"), "feature": feature,
                          "type": media["type"], "format": fmt, "bytes": media.get("bytes"),
                          "metrics": media.get("metrics") or {},
                          "file": f"{media['sha256']}.{fmt}"})
    return {"items": items[-limit:][::-1], "protected": sorted(hidden)}


def input_file(folder: Path, name: str) -> tuple[Path, str] | None:
    """The kept file called ``name`` (``<sha256>.<ext>``) and its media type, or None
    when the name is not one or no such file is kept."""
    m = _FILE.fullmatch(name)
    if m is None:
        return None
    path = folder / m["sha"][:2] / name
    return (path, MEDIA_TYPES[m["ext"]]) if path.is_file() else None
