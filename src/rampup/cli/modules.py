"""The command modules, in help order. Each has ``register(app: typer.Typer) -> None``."""

from __future__ import annotations

from types import ModuleType

ALL: list[ModuleType] = []
