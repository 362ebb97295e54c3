"""Images and audio in review items: the bytes a reviewer needs, for as long as they wait.

The prediction log keeps only a content hash and the input metrics of an image or audio
input (its bytes only with ``RAMPUP_INPUT_BYTES_DIR``), but a person cannot classify a
photo from its hash. So a review item keeps its media inputs as a ``data:`` URL beside
the logged summary while it is in the queue, and drops the bytes when it closes
(decided, uncertain, adjudicated): :func:`item_inputs` makes the stored form,
:func:`without_bytes` the closed one. The privacy rules apply first (the automation
runtime scrubs a record before it becomes an item), so a field marked ``drop``, ``hash``
or ``mask`` never reaches this module as bytes. A file larger than ``max_bytes`` keeps
its summary only (``"data": null``); the page then says so.

>>> class Img:  # a decoded input: bytes, format, sha256 and a to_log() summary
...     data, format, sha256 = b"\\x89PNG", "PNG", "ab"
...     def to_log(self):
...         return {"type": "image", "format": "png", "bytes": 4, "sha256": "ab"}
>>> item = item_inputs({"photo": Img(), "line": "A"})
>>> item["photo"]["data"], item["line"]
('data:image/png;base64,iVBORw==', 'A')
>>> without_bytes(item)["photo"]["data"] is None
True
>>> has_bytes(without_bytes(item)), has_bytes(item)
(False, True)
"""

from __future__ import annotations

import base64
from typing import Any

#: media files up to this size ride along with their review item (larger: summary only)
MAX_ITEM_BYTES = 2 * 1024 * 1024
MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "wav": "audio/wav",
        "flac": "audio/flac"}


def _media(value: Any, max_bytes: int) -> Any:
    data, to_log = getattr(value, "data", None), getattr(value, "to_log", None)
    if not isinstance(data, bytes) or not callable(to_log):
        return value
    out = dict(to_log())
    mime = MIME.get(str(out.get("format", "")).lower())
    out["data"] = (f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
                   if mime is not None and len(data) <= max_bytes else None)
    return out


def item_inputs(record: Any, max_bytes: int = MAX_ITEM_BYTES) -> Any:
    """The record as a review item stores it: each decoded image/audio value becomes its
    logged summary plus ``data`` (a ``data:`` URL, or None past ``max_bytes``)."""
    if isinstance(record, dict):
        return {k: _media(v, max_bytes) for k, v in record.items()}
    return _media(record, max_bytes)


def _is_media(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") in ("image", "audio") \
        and "data" in value


def has_bytes(inputs: Any) -> bool:
    """True when a stored item's inputs still hold media bytes."""
    values = inputs.values() if isinstance(inputs, dict) else [inputs]
    return any(_is_media(v) and v["data"] is not None for v in values)


def without_bytes(inputs: Any) -> Any:
    """A stored item's inputs with the media bytes dropped (the summary stays)."""
    if isinstance(inputs, dict) and not _is_media(inputs):
        return {k: ({**v, "data": None} if _is_media(v) else v) for k, v in inputs.items()}
    return {**inputs, "data": None} if _is_media(inputs) else inputs
