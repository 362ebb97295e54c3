"""rampup: from proof of concept to production for machine-learning models.

The public Python API. Names are imported lazily (``import rampup`` stays fast for the
CLI); every name in ``__all__`` resolves on first use.

>>> import rampup
>>> rampup.DeploymentPolicy.single("v1").routes
{'v1': 100.0}
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # settings and the project file
    "Settings": "rampup.config",
    "load_settings": "rampup.config",
    "ProjectFile": "rampup.project",
    "load_project": "rampup.project",
    # errors
    "RampupError": "rampup.errors",
    "ConfigError": "rampup.errors",
    "NotFoundError": "rampup.errors",
    "ConflictError": "rampup.errors",
    "ValidationError": "rampup.errors",
    "ModelError": "rampup.errors",
    "MissingExtraError": "rampup.errors",
    # store and registry
    "Database": "rampup.store",
    "Registry": "rampup.registry",
    "ArtifactStore": "rampup.registry",
    "InputSchema": "rampup.registry",
    "Feature": "rampup.registry",
    "OutputSpec": "rampup.registry",
    "Predictor": "rampup.registry",
    "FeatureBatch": "rampup.registry",
    "PredictionBatch": "rampup.registry",
    "compute_profile": "rampup.registry",
    "infer_schema": "rampup.registry",
    # deployments and routing
    "DeploymentPolicy": "rampup.rollout.policy",
    "Router": "rampup.rollout.router",
    # rollouts
    "Plan": "rampup.rollout.plan",
    "Rollouts": "rampup.rollout.service",
    "RolloutController": "rampup.rollout.controller",
    "parse_check": "rampup.rollout.checks",
    "judge_all": "rampup.rollout.judge",
    "measure": "rampup.rollout.window",
    "Agreement": "rampup.rollout.agreement",
    # analysis
    "evaluate": "rampup.analysis.evaluate",
    "evaluate_predictions": "rampup.analysis.evaluate",
    "compare_versions": "rampup.analysis.evaluate",
    "classification_report": "rampup.analysis.metrics",
    "regression_report": "rampup.analysis.metrics",
    "slice_metrics": "rampup.analysis.slices",
    "compare": "rampup.analysis.compare",
    "analyse_errors": "rampup.analysis.error_analysis",
    "discover_slices": "rampup.analysis.discovery",
    "run_audit": "rampup.analysis.audit",
    "load_audit_spec": "rampup.analysis.audit",
    "stratified_split": "rampup.analysis.splits",
    "cohen_kappa": "rampup.analysis.labels",
    "fleiss_kappa": "rampup.analysis.labels",
    "krippendorff_alpha": "rampup.analysis.labels",
    # task metrics: transcription, ranking, detection
    "TaskFamily": "rampup.tasks",
    "task_family": "rampup.tasks",
    "wer": "rampup.tasks",
    "cer": "rampup.tasks",
    "ranking_metrics": "rampup.tasks",
    "detection_map": "rampup.tasks",
    # unstructured inputs
    "ImageInput": "rampup.inputs.media",
    "AudioInput": "rampup.inputs.media",
    "decode_image": "rampup.inputs.media",
    "decode_audio": "rampup.inputs.media",
    "image_metrics": "rampup.inputs.metrics",
    "audio_metrics": "rampup.inputs.metrics",
    "text_metrics": "rampup.inputs.metrics",
    # monitoring and alerts
    "Monitor": "rampup.monitor.recorder",
    "StoreMetricSource": "rampup.monitor.query",
    "window_profile": "rampup.monitor.query",
    "QuantileSketch": "rampup.monitor.sketch",
    "cascade": "rampup.monitor.cascade",
    "cascade_report": "rampup.monitor.pipelines",
    "Alerts": "rampup.alerts.service",
    "parse_condition": "rampup.alerts.condition",
    # automation levels and the review queue
    "AutomationSpec": "rampup.automation.spec",
    "Automation": "rampup.automation.service",
    "ReviewQueue": "rampup.automation.queue",
    "advise": "rampup.automation.advise",
    "fit_calibrator": "rampup.automation.confidence",
    # retraining
    "Retrainer": "rampup.retrain.service",
    "RetrainSpec": "rampup.retrain.spec",
    "replay": "rampup.retrain.replay",
    # drift
    "check_model": "rampup.drift",
    "check_frames": "rampup.drift",
    "compare_profiles": "rampup.drift",
    "compare_frames": "rampup.drift",
    "drift_metrics": "rampup.drift",
    "domain_classifier": "rampup.drift",
    "mmd_test": "rampup.drift.embeddings",
    "embedding_domain_test": "rampup.drift.embeddings",
    "ADWIN": "rampup.drift",
    "PageHinkley": "rampup.drift",
    "DDM": "rampup.drift",
    # serving
    "create_app": "rampup.serving.app",
    "Validator": "rampup.serving.validation",
    # prediction log
    "LogWriter": "rampup.predlog.writer",
    "PredictionRecord": "rampup.predlog.writer",
    "FeedbackItem": "rampup.predlog.feedback",
    "export_predictions": "rampup.predlog.export",
    # batch
    "predict_batch": "rampup.batch",
    # background workers
    "Supervisor": "rampup.runtime",
    "Backoff": "rampup.runtime",
    "DeadLetters": "rampup.runtime",
    # load testing
    "load_test": "rampup.loadtest.service",
    # security and privacy
    "Privacy": "rampup.security.privacy",
    "load_privacy": "rampup.security.privacy",
    "apply_retention": "rampup.security.retention",
    "forget": "rampup.security.erase",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rampup' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from rampup.alerts.condition import parse_condition
    from rampup.alerts.service import Alerts
    from rampup.analysis.audit import load_audit_spec, run_audit
    from rampup.analysis.compare import compare
    from rampup.analysis.discovery import discover_slices
    from rampup.analysis.error_analysis import analyse_errors
    from rampup.analysis.evaluate import compare_versions, evaluate, evaluate_predictions
    from rampup.analysis.labels import cohen_kappa, fleiss_kappa, krippendorff_alpha
    from rampup.analysis.metrics import classification_report, regression_report
    from rampup.analysis.slices import slice_metrics
    from rampup.analysis.splits import stratified_split
    from rampup.automation.advise import advise
    from rampup.automation.confidence import fit_calibrator
    from rampup.automation.queue import ReviewQueue
    from rampup.automation.service import Automation
    from rampup.automation.spec import AutomationSpec
    from rampup.batch import predict_batch
    from rampup.config import Settings, load_settings
    from rampup.drift import (
        ADWIN,
        DDM,
        PageHinkley,
        check_frames,
        check_model,
        compare_frames,
        compare_profiles,
        domain_classifier,
        drift_metrics,
    )
    from rampup.drift.embeddings import embedding_domain_test, mmd_test
    from rampup.errors import (
        ConfigError,
        ConflictError,
        MissingExtraError,
        ModelError,
        NotFoundError,
        RampupError,
        ValidationError,
    )
    from rampup.inputs.media import AudioInput, ImageInput, decode_audio, decode_image
    from rampup.inputs.metrics import audio_metrics, image_metrics, text_metrics
    from rampup.monitor.cascade import cascade
    from rampup.monitor.pipelines import cascade_report
    from rampup.monitor.query import StoreMetricSource, window_profile
    from rampup.monitor.recorder import Monitor
    from rampup.monitor.sketch import QuantileSketch
    from rampup.predlog.export import export_predictions
    from rampup.predlog.feedback import FeedbackItem
    from rampup.predlog.writer import LogWriter, PredictionRecord
    from rampup.project import ProjectFile, load_project
    from rampup.registry import (
        ArtifactStore,
        Feature,
        FeatureBatch,
        InputSchema,
        OutputSpec,
        PredictionBatch,
        Predictor,
        Registry,
        compute_profile,
        infer_schema,
    )
    from rampup.retrain.replay import replay
    from rampup.retrain.service import Retrainer
    from rampup.retrain.spec import RetrainSpec
    from rampup.rollout.agreement import Agreement
    from rampup.rollout.checks import parse_check
    from rampup.rollout.controller import RolloutController
    from rampup.rollout.judge import judge_all
    from rampup.rollout.plan import Plan
    from rampup.rollout.policy import DeploymentPolicy
    from rampup.rollout.router import Router
    from rampup.rollout.service import Rollouts
    from rampup.rollout.window import measure
    from rampup.runtime import Backoff, DeadLetters, Supervisor
    from rampup.security.erase import forget
    from rampup.security.privacy import Privacy, load_privacy
    from rampup.security.retention import apply_retention
    from rampup.serving.app import create_app
    from rampup.serving.validation import Validator
    from rampup.tasks import TaskFamily, cer, detection_map, ranking_metrics, task_family, wer
