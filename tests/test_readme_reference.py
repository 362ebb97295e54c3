"""The README's reference (settings, commands, HTTP routes) is the one the code generates:
a new setting, command or route without its line in the README fails here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _reference() -> object:
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "docs" / "reference.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_reference_is_current() -> None:
    ref = _reference()
    expected = ref.render()  # type: ignore[attr-defined]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    begin, end = ref.BEGIN, ref.END  # type: ignore[attr-defined]
    assert begin in readme, "README has no generated reference block"
    assert end in readme, "README's generated reference block has no end"
    current = readme[readme.index(begin):readme.index(end) + len(end)]
    assert current == expected, ("README's reference is stale: run "
                                 "`.venv/bin/python docs/reference.py` and paste its output "
                                 "over the block")


def test_every_setting_has_a_meaning() -> None:
    rows = _reference().settings_rows()  # type: ignore[attr-defined]
    assert rows
    assert [r[0] for r in rows if not r[2]] == []
