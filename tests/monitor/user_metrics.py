"""User-defined input metrics for the project-file test."""

from __future__ import annotations

from typing import Any


def income_k(record: dict[str, Any]) -> float:
    return float(record["income"]) / 1000.0


def broken(record: dict[str, Any]) -> float:
    raise RuntimeError("this metric always fails")
