"""The CLI starts at once: which modules ``--help``, each command and ``versions`` import.

How long they take is measured by ``benchmarks/cli.py``; here we check what is imported,
in fresh interpreters (a test process has everything loaded already).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from typer.testing import CliRunner

from rampup.cli import app, modules
from rampup.cli._lazy import command_name

#: never needed to show help or to start a command
HEAVY = ("pandas", "scipy", "sklearn", "numpy", "pyarrow", "fastapi", "starlette",
         "uvicorn", "pydantic_settings", "alembic", "jinja2", "onnxruntime", "mlflow",
         "prometheus_client", "psutil", "ray")
#: besides HEAVY, --help needs no settings, store, validation models or HTTP client
HELP_ALSO = ("pydantic", "sqlalchemy", "httpx", "yaml")

PROBE = """
import json, sys
sys.argv = ["rampup", *json.loads(sys.argv[1])]
from rampup.cli import main
try:
    main()
except SystemExit:
    pass
print("\\n@@" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def loaded(args: list[str], cwd: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPUP_")}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    return set(json.loads(done.stdout.rsplit("@@", 1)[1]))


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    mods = loaded(["--help"], tmp_path)
    assert "typer" in mods  # the probe ran the CLI
    assert mods.isdisjoint(HEAVY + HELP_ALSO), sorted(mods & set(HEAVY + HELP_ALSO))


def test_versions_imports_only_settings_and_the_store(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text("class Echo:\n    def predict(self, rows):\n"
                                      "        return [len(r) for r in rows]\n")
    result = CliRunner().invoke(app, ["-p", str(tmp_path), "register", "echo",
                                      f"{tmp_path / 'echo.py'}:Echo"])
    assert result.exit_code == 0, result.output
    mods = loaded(["-p", str(tmp_path), "versions"], tmp_path)
    assert {"sqlalchemy", "pydantic_settings"} <= mods  # it did read the store
    heavy = set(HEAVY) - {"pydantic_settings"}  # settings are what it reads first
    assert mods.isdisjoint(heavy), sorted(mods & heavy)


BUILD_ALL = """
import json, sys, typer.main
from rampup.cli import app
from typer.testing import CliRunner
group = typer.main.get_command(app)  # every command's parameters, as typer builds them
runner = CliRunner()
for name in group.commands:
    assert runner.invoke(app, [name, "--help"]).exit_code == 0, name
print("\\n@@" + json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_no_command_imports_heavy_modules_before_it_runs(tmp_path: Path) -> None:
    """Building and showing the help of every command (all that happens before a
    command's own work starts) loads none of the heavy libraries."""
    done = subprocess.run([sys.executable, "-c", BUILD_ALL], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, check=True)
    mods = set(json.loads(done.stdout.rsplit("@@", 1)[1]))
    assert mods.isdisjoint(HEAVY), sorted(mods & set(HEAVY))


def test_lazy_root_shows_the_same_help_as_typer(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAMPUP_")},
           "COLUMNS": "110", "TERM": "dumb"}
    fast = subprocess.run([sys.executable, "-m", "rampup", "--help"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=True).stdout
    full = CliRunner().invoke(app, ["--help"], env=env, terminal_width=110).output
    assert fast.split() == full.split()
    for panel in modules.PANEL_ORDER:
        assert f"─ {panel} ─" in fast


def test_every_command_has_a_help_panel() -> None:
    names = ([command_name(i) for i in app.registered_commands]
             + [g.name for g in app.registered_groups])
    assert set(names) == set(modules.PANELS), "add new commands to rampup.cli.modules.PANELS"
    assert set(modules.PANELS.values()) <= set(modules.PANEL_ORDER)
    ranks = [modules.PANEL_ORDER.index(modules.PANELS[n]) for n in names
             if n in {command_name(i) for i in app.registered_commands}]
    assert ranks == sorted(ranks)  # commands listed panel by panel


def test_help_has_no_line_breaks_inside_sentences() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], terminal_width=200)
    assert "delayed labels at it, and prints what to open and try." in result.output


@pytest.mark.parametrize(("cli_value", "source"), [
    ("rampup.cli.automation_cmds:LEVELS", "rampup.automation.spec:LEVELS"),
    ("rampup.cli.drift_cmds:DETECTORS", "rampup.drift.detectors:DETECTORS"),
])
def test_cli_copies_of_names_match_their_source(cli_value: str, source: str) -> None:
    """Names the CLI needs at start-up without importing their (heavy) home module."""
    import importlib

    def value(ref: str) -> object:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)

    assert tuple(value(cli_value)) == tuple(value(source))  # type: ignore[arg-type]


def test_cli_strategy_matches_the_plan() -> None:
    from rampup.cli.rollout_cmds import Strategy as CliStrategy
    from rampup.rollout.plan import Strategy

    assert get_args(CliStrategy) == get_args(Strategy)
