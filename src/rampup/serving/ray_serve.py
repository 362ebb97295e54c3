"""``rampup serve --engine ray``: the same app as a Ray Serve application.

Each replica is a Ray actor that builds the app with :func:`create_app` from the project
folder and the store URL (the builder runs in the replica, so nothing of the app is
pickled) and runs its lifespan: every replica has its own log writer, monitor, deployment
poller and dead letters on the shared store, exactly as a ``--workers`` process has. The
leader-only loops (rollout controller, alerts, retraining, retention) are started in every
replica but run only where :class:`~rampup.runtime.LeaderLoop` holds the lock: on
PostgreSQL an advisory lock elects one replica across the cluster; on SQLite the lock is a
``flock`` next to the database file, which elects one replica among those on the same
machine (a SQLite file cannot be shared between machines anyway). Ray Serve's HTTP proxy
listens on the configured host and port; replicas and autoscaling come from the ``ray:``
section of ``rampup.yaml``.

Ray is imported only inside :func:`serve_ray`.
"""

from __future__ import annotations

import importlib
import signal
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from rampup.config import Settings, load_settings
from rampup.project import RaySpec
from rampup.runtime.ray_cluster import ray_module, ray_session
from rampup.serving.app import create_app

APP_NAME = "rampup"


def build_app(project_dir: str, database_url: str, host: str) -> FastAPI:
    """The app of one replica (called by Ray Serve inside the replica)."""
    settings, project = load_settings(project_dir, database_url=database_url, host=host)
    return create_app(settings, project)


def deployment_options(spec: RaySpec) -> dict[str, Any]:
    """Ray Serve deployment options from the ``ray:`` section.

    >>> deployment_options(RaySpec(replicas=2, num_cpus=0.5))
    {'ray_actor_options': {'num_cpus': 0.5}, 'num_replicas': 2}
    >>> from rampup.project import RayAutoscaling
    >>> scaled = RaySpec(autoscaling=RayAutoscaling(max_replicas=4))
    >>> deployment_options(scaled)["autoscaling_config"]
    {'min_replicas': 1, 'max_replicas': 4, 'target_ongoing_requests': 8.0}
    """
    options: dict[str, Any] = {"ray_actor_options": {"num_cpus": spec.num_cpus}}
    if spec.autoscaling is not None:
        options["autoscaling_config"] = spec.autoscaling.model_dump()
    else:
        options["num_replicas"] = spec.replicas
    return options


def serve_ray(settings: Settings, spec: RaySpec, host: str, port: int,
              address: str | None, *, ready: Any = None) -> None:
    """Run the app on Ray Serve at ``host:port`` until SIGINT/SIGTERM, then shut the
    application and Serve down. ``ready`` (a callable) is called once it answers."""
    with ray_session(address or spec.address, None):
        ray_module()
        serve: Any = importlib.import_module("ray.serve")

        ingress = serve.ingress(_builder(str(Path(settings.project_dir).resolve()),
                                         settings.resolved_database_url, host))

        class Rampup:  # the app's routes are the ingress; nothing of its own
            pass

        deployment: Any = serve.deployment(name=APP_NAME, **deployment_options(spec))(
            ingress(Rampup))

        serve.start(http_options={"host": host, "port": port}, detached=False)
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            serve.run(deployment.bind(), name=APP_NAME, route_prefix="/", blocking=False)
            if ready is not None:
                ready()
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            serve.shutdown()


def _builder(project_dir: str, database_url: str, host: str) -> Any:
    def builder() -> FastAPI:
        return build_app(project_dir, database_url, host)

    return builder
