"""The public API is explicit and complete: every exported name resolves."""

from __future__ import annotations

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
