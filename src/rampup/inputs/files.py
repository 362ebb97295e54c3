"""Image and audio inputs from files: a manifest column of paths, or a folder.

Batch runs and reference data name their files by path, relative to the manifest (or
reference table) they are listed in; a folder of files is a manifest of its own (one row
per file, sorted by name). Each value is read and decoded with the same checks as a
request, so a bad file is a row problem naming the file and the fix.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "b.wav").write_bytes(b"x"); _ = (d / "a.png").write_bytes(b"x")
>>> _ = (d / "notes.txt").write_text("not media")
>>> [p.name for p in media_files(d, "image")]
['a.png']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rampup.inputs.media import InputProblem
from rampup.registry.schema import Feature

SUFFIXES = {"image": (".png", ".jpg", ".jpeg"), "audio": (".wav", ".flac")}


def media_files(folder: Path, dtype: str) -> list[Path]:
    """The files of ``dtype`` in ``folder`` (not recursive), sorted by name."""
    wanted = SUFFIXES[dtype]
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in wanted)


def read_value(value: Any, base_dir: Path | None) -> Any:
    """A manifest cell as the value to decode: the bytes of the file it names (text),
    else the value itself (bytes, or base64 text that is not a path)."""
    if isinstance(value, str) and value and not value.startswith("data:") and len(value) < 4096:
        path = Path(value)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if path.suffix.lower() in SUFFIXES["image"] + SUFFIXES["audio"]:
            try:
                return path.read_bytes()
            except OSError as exc:
                raise InputProblem(f"names the file {value!r}, which cannot be read "
                                   f"({exc.strerror})",
                                   "give the path of the file relative to the manifest") \
                    from None
    return value


def decode_column(values: Sequence[Any], feature: Feature, base_dir: Path | None,
                  ) -> tuple[list[Any], list[str | None]]:
    """Each value decoded (None where missing or bad) and each problem (None where fine):
    image/audio cells name files (or hold bytes), tensor/embedding cells hold JSON."""
    from rampup.inputs.checks import value_check
    from rampup.tasks.family import parse_value

    inner = value_check(feature)
    binary = feature.dtype in ("image", "audio")

    def check(v: Any) -> Any:
        if binary:
            return inner(read_value(v, base_dir))
        return inner(parse_value(v) if feature.dtype in ("tensor", "embedding") else v)

    out: list[Any] = []
    problems: list[str | None] = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append(None)
            problems.append(None)
            continue
        try:
            out.append(check(v))
            problems.append(None)
        except InputProblem as p:
            out.append(None)
            problems.append(f"{p.message} ({p.fix})")
    return out, problems
