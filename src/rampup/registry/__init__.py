"""The model registry: versions, flavors and loaders, reference profiles.

Names resolve lazily, so a submodule (``rampup.registry.profile``, ``.schema``) can be
imported without the registry and its store (SQLAlchemy) coming along.

>>> from rampup.registry import Registry, ArtifactStore, FeatureBatch
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "ArtifactStore": "rampup.registry.artifacts",
    "hash_path": "rampup.registry.artifacts",
    "FLAVORS": "rampup.registry.flavors",
    "Flavor": "rampup.registry.flavors",
    "detect_flavor": "rampup.registry.flavors",
    "get_flavor": "rampup.registry.flavors",
    "FeatureBatch": "rampup.registry.predictor",
    "PredictionBatch": "rampup.registry.predictor",
    "Predictor": "rampup.registry.predictor",
    "bin_counts": "rampup.registry.profile",
    "bin_edges": "rampup.registry.profile",
    "compute_profile": "rampup.registry.profile",
    "infer_schema": "rampup.registry.profile",
    "profile_from_path": "rampup.registry.profile",
    "read_table": "rampup.registry.profile",
    "Registry": "rampup.registry.registry",
    "SyncItem": "rampup.registry.registry",
    "initial_policy": "rampup.registry.registry",
    "Feature": "rampup.registry.schema",
    "InputSchema": "rampup.registry.schema",
    "OutputSpec": "rampup.registry.schema",
}

__all__ = [
    "FLAVORS",
    "ArtifactStore",
    "Feature",
    "FeatureBatch",
    "Flavor",
    "InputSchema",
    "OutputSpec",
    "PredictionBatch",
    "Predictor",
    "Registry",
    "SyncItem",
    "bin_counts",
    "bin_edges",
    "compute_profile",
    "detect_flavor",
    "get_flavor",
    "hash_path",
    "infer_schema",
    "initial_policy",
    "profile_from_path",
    "read_table",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rampup.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from rampup.registry.artifacts import ArtifactStore, hash_path
    from rampup.registry.flavors import FLAVORS, Flavor, detect_flavor, get_flavor
    from rampup.registry.predictor import FeatureBatch, PredictionBatch, Predictor
    from rampup.registry.profile import (
        bin_counts,
        bin_edges,
        compute_profile,
        infer_schema,
        profile_from_path,
        read_table,
    )
    from rampup.registry.registry import Registry, SyncItem, initial_policy
    from rampup.registry.schema import Feature, InputSchema, OutputSpec
