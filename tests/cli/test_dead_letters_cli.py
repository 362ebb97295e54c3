"""``rampup log dead-letters``: what the workers could not write, readable and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from rampup.cli import app
from rampup.runtime import DeadLetters
from rampup.store import Database


def run(project: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--project", str(project), "log", "dead-letters", *args],
                                env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_lists_filters_and_prints_payloads(tmp_path: Path) -> None:
    code, out = run(tmp_path)
    assert code == 0, out
    assert "no dead letters" in out
    store = Database.open(f"sqlite:///{tmp_path / 'rampup.db'}")
    dl = DeadLetters(store)
    dl.add("log-writer", TypeError("Integer exceeds 64-bit range"), {"age": 10**30},
           key="rid-1", model="credit")
    dl.add("monitor", "surrogates not allowed", {"city": "\ud800"}, key="win", model="credit")
    store.close()
    code, out = run(tmp_path)
    assert code == 0, out
    assert "log-writer" in out
    assert "rid-1" in out
    assert "Integer exceeds 64-bit range" in out
    assert "in all: log-writer 1, monitor 1" in out
    code, out = run(tmp_path, "--worker", "monitor", "--payload")
    assert code == 0, out
    assert "rid-1" not in out
    assert '"\\\\ud800"' in out or "\\ud800" in out
    code, out = run(tmp_path, "--json", "--since", "1h")
    rows = json.loads(out)
    assert [r["key"] for r in rows] == ["win", "rid-1"]
    code, out = run(tmp_path, "--since", "yesterday-ish")
    assert code != 0
    assert "cannot read" in out
