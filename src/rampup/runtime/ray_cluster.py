"""Connecting to Ray for the Ray engine (``--engine ray`` of ``predict-batch`` and
``serve``): a cluster given by address, or a local Ray started for the command. Ray is
imported only when a session opens."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rampup.errors import ConfigError


@contextmanager
def ray_session(address: str | None, num_cpus: int | None) -> Iterator[None]:
    """Connect to the Ray cluster at ``address`` (or ``RAY_ADDRESS``), or start a local
    one with ``num_cpus`` CPUs for this run; shut the connection down afterwards (a
    session this process had already opened is left open)."""
    # no usage reports to Ray's servers (and no Prometheus queries for them) unless asked
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray = ray_module()
    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING,
                              "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: {exc}",
                          fix="check --ray-address / RAY_ADDRESS, or leave both unset to "
                              "start a local Ray") from None
    try:
        yield
    finally:
        ray.shutdown()


def ray_module() -> Any:
    """``ray``, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("the Ray engine needs Ray installed",
                          fix="pip install 'rampup[ray]'") from None
    return ray
