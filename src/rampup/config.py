"""Typed settings, read once: environment (``RAMPUP_`` prefix) over the project file.

>>> s = Settings(database_url="sqlite:///x.db", admin_token="t")
>>> s.admin_token.get_secret_value() if s.admin_token else None
't'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from rampup.runtime.backoff import Backoff

from rampup.errors import ConfigError
from rampup.project import ProjectFile, explain, find_project_file, load_project


class Settings(BaseSettings):
    """Process settings. Every field can be set with ``RAMPUP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="RAMPUP_", extra="forbid", frozen=True)

    project_dir: Path = Field(
        default_factory=Path.cwd,
        description="the project folder (rampup.yaml, rampup.db, artifacts)")
    database_url: str | None = Field(
        default=None,
        description="the store: postgresql://... or sqlite:///...; default: rampup.db in the "
                    "project folder")
    artifacts_dir: str | Path | None = Field(
        default=None,
        description="where registered versions' files live: a folder (relative: to the project "
                    "folder) or an fsspec URL such as s3://bucket/prefix; default: artifacts/")
    artifact_cache_dir: Path | None = Field(
        default=None,
        description="local cache of artifacts fetched from an object store, by content hash "
                    "(relative: to the project folder); default: .rampup/artifact-cache/")
    artifact_storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec options for an object-store artifacts_dir, as JSON (e.g. "
                    '{"client_kwargs": {"endpoint_url": "http://minio:9000"}}); S3 also reads '
                    "the standard AWS_* environment variables")
    admin_token: SecretStr | None = Field(
        default=None,
        description="a bearer token for admin routes (acts as admin:env beside the named tokens of"
                    " rampup tokens)")
    predict_token: SecretStr | None = Field(
        default=None,
        description="when set, predict and read routes need it (Authorization: Bearer ...)")
    host: str = Field(
        default="127.0.0.1",
        description="the address rampup serve listens on; any non-loopback address needs an admin "
                    "token (or --insecure)")
    allowed_origins: str = Field(
        default="", description="comma-separated origins (https://ops.example.com) trusted "
        "for state-changing requests besides the server's own (a proxy that rewrites Host)")
    retention: bool = Field(default=True, description="apply the project's retention "
                            "settings (leader only)")
    retention_interval: float = Field(default=60.0, gt=0,
                                      description="seconds between retention passes")
    log_partition_interval: int = Field(
        default=86_400, ge=3_600, le=31 * 86_400,
        description="PostgreSQL: seconds of prediction log (and its feedback) per partition; "
                    "retention drops whole partitions (default a day)")
    log_partitions_ahead: int = Field(
        default=3, ge=1, le=90,
        description="PostgreSQL: partitions the leader keeps created ahead of the current one")
    port: int = Field(default=8000, ge=0, le=65535, description="the port rampup serve listens on")
    workers: int = Field(
        default=1, ge=1, le=64,
        description="server processes (one leader runs the controller, alerts, retention and "
                    "retraining)")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024,
        description="larger request bodies get 413")
    max_records: int = Field(
        default=1000, ge=1,
        description="most records one predict request may carry")
    max_json_depth: int = Field(default=64, ge=2, le=200, description="deeper request "
                                "bodies get 400 (orjson writes at most 254 levels)")
    log_queue_size: int = Field(
        default=100_000, ge=10,
        description="predictions waiting for the log writer before new ones wait (then drop, "
                    "counted)")
    log_batch_size: int = Field(
        default=2000, ge=1,
        description="most rows the log writer inserts at once")
    log_flush_interval: float = Field(
        default=0.2, gt=0,
        description="seconds the log writer waits to fill a batch")
    log_block_timeout: float = Field(
        default=0.05, ge=0,
        description="seconds a request waits for room in a full log queue before its record is "
                    "dropped and counted (rampup_predlog_dropped_total)")
    input_bytes_dir: Path | None = Field(
        default=None, description="keep the bytes of image/audio inputs here, one file per "
        "content hash (off by default: the log holds only the hash and the input metrics)")
    inline_budget_ms: float = Field(
        default=2.0, ge=0, description="a model call estimated to take at most this long "
        "(per-record cost x records) runs on the event loop; longer ones on a worker thread "
        "(0: always a worker thread)")
    deployment_poll_interval: float = Field(
        default=0.5, gt=0,
        description="seconds between checks for a new deployment (how fast a rollback reaches "
                    "every replica)")
    migrate: bool = Field(
        default=True,
        description="apply the store's migrations on open (false: refuse an old schema instead)")
    shadow_timeout: float = Field(
        default=5.0, gt=0,
        description="seconds a mirrored (shadow) call may take before it is abandoned")
    shadow_max_in_flight: int = Field(
        default=64, ge=1,
        description="mirrored calls running at once; more are dropped and counted")
    gc_freeze: bool = Field(
        default=True, description="freeze the objects alive after start-up (and after a new "
        "model loads) out of the garbage collector's way: no 100-300 ms collector pause "
        "while serving (rampup.serving.heap)")
    controller: bool = Field(default=True, description="run the rollout controller (leader only)")
    controller_interval: float = Field(
        default=2.0, gt=0,
        description="seconds between the rollout controller's passes")
    controller_min_requests: int = Field(
        default=100, ge=1, description="the rollout judge's minimum of predictions (and "
        "latencies) per version before a check can pass or fail; lower it only for slow "
        "models whose traffic is a few requests a minute")
    alerts: bool = Field(default=True, description="run the alert evaluator (leader only)")
    alerts_interval: float = Field(default=10.0, gt=0, description="seconds between passes")
    retrain: bool = Field(default=True, description="run scheduled and queued retraining "
                          "runs (leader only)")
    retrain_interval: float = Field(default=5.0, gt=0,
                                    description="seconds between retraining loop passes")
    drift_check_interval: float = Field(
        default=60.0, gt=0, description="seconds a model's drift check is reused by the alert "
        "rules that read drift.* / concept.* metrics before it runs again")
    monitor: bool = Field(default=True,
                          description="streaming monitoring (RAMPUP_MONITOR=false: off)")
    monitor_window_s: float = Field(
        default=60.0, ge=1, le=86_400,
        description="seconds per monitoring window (the resolution of charts and alert rules)")
    monitor_flush_interval: float = Field(
        default=5.0, gt=0,
        description="seconds between writes of the open windows to the store")
    monitor_interval: float = Field(default=0.5, gt=0,
                                    description="seconds between aggregation rounds")
    monitor_keep_s: float = Field(default=600.0, ge=0,
                                  description="closed windows kept in memory for late feedback")
    monitor_retention_days: float = Field(
        default=30.0, gt=0,
        description="days of monitoring windows kept")
    worker_restart_initial: float = Field(
        default=0.5, gt=0, description="seconds before a dead background worker is "
        "restarted the first time (doubling on each crash in a row)")
    worker_restart_max: float = Field(default=30.0, gt=0,
                                      description="longest wait before a restart")
    store_retry_after: int = Field(
        default=5, ge=1, description="Retry-After (seconds) of a 503 answered while the "
        "store is unreachable")

    def worker_backoff(self) -> Backoff:
        """The supervisor's restart policy from these settings."""
        from rampup.runtime.backoff import Backoff

        initial = self.worker_restart_initial
        return Backoff(initial=initial, maximum=max(initial, self.worker_restart_max))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.project_dir / 'rampup.db').resolve()}"

    @property
    def resolved_artifacts_location(self) -> str:
        """``artifacts_dir`` as an absolute folder, or the URL as given."""
        d = str(self.artifacts_dir or "artifacts")
        if "://" in d:
            return d
        return str(Path(d) if Path(d).is_absolute() else (self.project_dir / d).resolve())

    @property
    def resolved_artifact_cache_dir(self) -> Path:
        d = self.artifact_cache_dir or Path(".rampup") / "artifact-cache"
        return d if d.is_absolute() else (self.project_dir / d).resolve()


_FROM_PROJECT: dict[str, Callable[[ProjectFile], Any]] = {
    "database_url": lambda p: p.database_url,
    "artifacts_dir": lambda p: p.artifacts_dir,
    "artifact_cache_dir": lambda p: p.artifact_cache_dir,
    "host": lambda p: p.serving.host,
    "port": lambda p: p.serving.port,
    "max_body_bytes": lambda p: p.serving.max_body_bytes,
    "max_records": lambda p: p.serving.max_records,
    "max_json_depth": lambda p: p.serving.max_json_depth,
}


def load_settings(
    project: str | Path | None = None, **overrides: Any
) -> tuple[Settings, ProjectFile]:
    """Build settings: explicit ``overrides`` > ``RAMPUP_*`` environment > project file > defaults.

    ``project`` is a project folder or file; without it ``RAMPUP_PROJECT_DIR`` or the
    current folder is used. A missing project file means an empty project.
    """
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        env = Settings(**overrides)
    except pydantic.ValidationError as exc:
        raise explain(exc, "settings (RAMPUP_* environment variables)", Settings) from None
    if project is not None:
        path = Path(project)
        project_dir = path if path.is_dir() or not path.suffix else path.parent
        if "project_dir" not in overrides:
            overrides["project_dir"] = project_dir.resolve()
    else:
        project_dir = env.project_dir
    file = find_project_file(project if project is not None else project_dir)
    proj = load_project(file) if file else ProjectFile()
    values: dict[str, Any] = dict(overrides)
    for key, get in _FROM_PROJECT.items():
        if key not in env.model_fields_set and key not in values:
            v = get(proj)
            if v is not None and v != Settings.model_fields[key].default:
                values[key] = v
    try:
        settings = Settings(**values)
    except pydantic.ValidationError as exc:  # pragma: no cover - fields validated above
        raise explain(exc, "settings", Settings) from None
    if settings.project_dir and not settings.project_dir.exists():
        raise ConfigError(f"project folder {settings.project_dir} does not exist",
                          fix="create it with 'rampup init DIR' or pass an existing --project")
    return settings, proj
