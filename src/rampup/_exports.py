"""Lazy public names for a package's ``__init__``.

A package lists its public names in ``__all__`` and maps each to the module defining it;
the first use imports that module. So importing a package (or any module in it) imports
nothing else, and a package whose spec module the project file reads cannot lead back to
itself.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for ``exports`` (name → module).

    >>> getattr_, dir_ = lazy_exports("rampup", {"ValidationError": "rampup.errors"})
    >>> getattr_("ValidationError").__name__
    'ValidationError'
    """

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return getattr_, dir_
