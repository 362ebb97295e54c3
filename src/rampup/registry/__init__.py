"""The model registry: versions, flavors and loaders, reference profiles.

>>> from rampup.registry import Registry, ArtifactStore, FeatureBatch
"""

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
