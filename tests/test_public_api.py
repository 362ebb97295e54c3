"""The public API is explicit and complete: every exported name resolves."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import rampup


@pytest.mark.parametrize("name", [n for n in rampup.__all__ if n != "__version__"])
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(rampup, name) is not None


def test_unknown_name_raises() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = rampup.nope  # type: ignore[attr-defined]


def test_key_concepts_are_public() -> None:
    for name in ("Database", "Registry", "create_app", "DeploymentPolicy", "LogWriter",
                 "Settings", "predict_batch", "export_predictions"):
        assert name in rampup.__all__


def test_import_is_light() -> None:
    code = "import sys, rampup; print('sklearn' in sys.modules, 'fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("name", [n for n in rampup.__all__ if n != "__version__"])
def test_every_exported_name_is_the_defining_modules(name: str) -> None:
    """The lazy map points at the module that holds the name (no stale path)."""
    module = importlib.import_module(rampup._EXPORTS[name])
    assert getattr(rampup, name) is getattr(module, name)


SUBPACKAGES = sorted(m.name for m in pkgutil.iter_modules(rampup.__path__, "rampup.")
                     if m.ispkg)


def test_the_subpackages_are_found() -> None:
    assert {"rampup.alerts", "rampup.serving", "rampup.store", "rampup.runtime"} <= set(
        SUBPACKAGES)


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_subpackage_draws_its_public_line(package: str) -> None:
    """Each subpackage lists its public names in ``__all__``; every one resolves."""
    module = importlib.import_module(package)
    names = module.__all__
    assert names
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(module, name) is not None, f"{package}.{name}"
    assert set(names) <= set(dir(module))


def test_importing_a_package_imports_none_of_its_modules() -> None:
    """The public names resolve on first use: importing the alerts package (which the
    project file's spec import passes through) loads neither its service nor the store."""
    code = ("import sys, rampup.alerts, rampup.serving, rampup.monitor; "
            "print('rampup.alerts.service' in sys.modules, 'rampup.serving.app' in sys.modules,"
            " 'sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "False"]
