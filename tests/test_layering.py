"""The layering holds: the import contracts of pyproject.toml ([tool.importlinter]: layers,
no cycles, pure specs, no demo) and a library that imports without the demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import rampup

SRC = Path(rampup.__file__).parent
ROOT = SRC.parents[1]

# Every module of the library, imported with ``rampup_demo`` made unimportable: a finder
# first on the meta path refuses it, so any import of the demo (at module level, in a
# package __init__, through a lazy attribute) fails the run.
_IMPORT_ALL = """
import importlib, pkgutil, sys

class NoDemo:
    def find_spec(self, name, path=None, target=None):
        if name == "rampup_demo" or name.startswith("rampup_demo."):
            raise ImportError(f"the library imported the demo: {name}")
        return None

sys.meta_path.insert(0, NoDemo())
import rampup
names = [m.name for m in pkgutil.walk_packages(rampup.__path__, "rampup.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
for name in rampup.__all__:
    getattr(rampup, name)
print(len(names))
"""


def test_every_library_module_imports_without_the_demo() -> None:
    done = subprocess.run([sys.executable, "-c", _IMPORT_ALL], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) > 100  # the walk found the library, not nothing


def test_only_the_demo_command_names_the_demo() -> None:
    """Nor does it write code that imports the demo (``rampup init --example``'s script is
    self-contained): ``rampup_demo`` appears only in ``cli/demo_cmds.py``."""
    naming = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                    if "rampup_demo" in p.read_text(encoding="utf-8"))
    assert naming == ["cli/demo_cmds.py"]


def test_import_contracts_are_kept() -> None:
    """``lint-imports`` on pyproject.toml's contracts (see docs/architecture.md, Layers)."""
    lint = Path(sys.executable).parent / "lint-imports"
    assert lint.exists(), "import-linter is missing: `make setup` installs the dev extra"
    done = subprocess.run([str(lint), "--no-cache",
                           "--config", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout
