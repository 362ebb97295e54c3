"""A retraining run's training job as a Ray task (``engine: ray``, ``rampup retrain
--engine ray``).

The task runs the very job the local engine runs (:func:`rampup.retrain.job.run_job`: the
entry point in a subprocess of its own process group, with the run's timeout), on
whichever node Ray places it. Nothing assumes a shared disk: the driver sends the run's
input files (dataset, holdout, params) with the task through Ray's object store, the task
writes them into a temporary folder on its node, trains there, and returns the files the
job wrote (model, metrics, log); the driver puts them back into the run's folder, and
registration, evaluation and rollout go on exactly as for a local run. The new version's
artifact goes wherever the registry keeps artifacts (an ``s3://`` bucket for a cluster).

The entry point must import on the worker: the project folder is put on ``PYTHONPATH``
when the node has it (one machine, a shared mount); on a remote cluster install the
training package on the workers' image.

Stopping: the driver waits with the run's timeout plus a grace; on timeout or shutdown it
cancels the task (a KeyboardInterrupt inside it ends the job's process group, as Ctrl-C
does locally), then force-kills the worker if it is still there. A task that fails
(Ray could not start it, ``rampup`` does not import on the worker) fails the run with
the task's error.

Ray is imported only when a job runs.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rampup.errors import ConfigError
from rampup.retrain.job import JobResult, command_argv, run_job, tail, worker_argv
from rampup.runtime.ray_cluster import ray_module, ray_session

GRACE_S = 60.0  # beyond the job's own timeout, for Ray to schedule and return the task
LOG = "train.log"


@dataclass(frozen=True)
class TrainingJob:
    """What a training job runs, with file *names* (the task's folder is its own)."""

    entry_point: str | None
    command: str | None
    values: dict[str, str]  # placeholder -> file name in the run folder
    extra: dict[str, str]   # worker-only options (the label column)
    outputs: tuple[str, ...]

    def argv(self, folder: Path) -> list[str] | str:
        paths = {k: str(folder / v) for k, v in self.values.items()}
        if self.entry_point is not None:
            return worker_argv(self.entry_point, {**paths, **self.extra})
        return command_argv(self.command or "", paths)


def _train_task(job: TrainingJob, files: dict[str, bytes], project_dir: str,
                pythonpath: str, timeout: float) -> tuple[JobResult, dict[str, bytes]]:
    """The Ray task: the job in a temporary folder of the node it landed on."""
    with tempfile.TemporaryDirectory(prefix="rampup-train-") as tmp:
        folder = Path(tmp)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        cwd = Path(project_dir) if Path(project_dir).is_dir() else folder
        result = run_job(job.argv(folder), cwd=cwd, log_path=folder / LOG, timeout=timeout,
                         env={"PYTHONPATH": pythonpath})
        produced = {name: (folder / name).read_bytes() for name in (*job.outputs, LOG)
                    if (folder / name).is_file()}
        return result, produced


def run_on_ray(job: TrainingJob, run_dir: Path, *, inputs: list[str], project_dir: Path,
               timeout: float, address: str | None, num_cpus: float,
               cancel: threading.Event | None = None) -> JobResult:
    """Run ``job`` as a Ray task with the files ``inputs`` of ``run_dir``; the files it
    wrote land in ``run_dir``. Raises ConfigError when Ray is missing or unreachable
    and when the task itself failed."""
    ray = ray_module()
    files = {name: (run_dir / name).read_bytes() for name in inputs}
    pythonpath = os.pathsep.join(p for p in (str(project_dir),
                                             os.environ.get("PYTHONPATH", "")) if p)
    started = time.monotonic()
    with ray_session(address, None):
        task = ray.remote(num_cpus=num_cpus, max_retries=0)(_train_task)
        ref = task.remote(job, files, str(project_dir), pythonpath, timeout)
        stopped = _wait(ray, ref, timeout + GRACE_S, cancel)
        if stopped is not None:
            return JobResult(None, stopped == "timeout", time.monotonic() - started,
                             str(run_dir / LOG), tail(run_dir / LOG), stopped == "cancel")
        try:
            result, produced = ray.get(ref)
        except Exception as exc:  # RayTaskError, WorkerCrashedError, ...
            raise ConfigError(f"the training task on Ray failed: {_first_line(exc)}",
                              fix="check that rampup (and the entry point's package) "
                                  "imports on the Ray workers") from None
    for name, data in produced.items():
        (run_dir / name).write_bytes(data)
    return JobResult(result.returncode, result.timed_out, result.seconds,
                     str(run_dir / LOG), result.log_tail, result.cancelled)


def _wait(ray: Any, ref: Any, limit: float, cancel: threading.Event | None) -> str | None:
    """Wait for the task: None when it finished, else why it was stopped."""
    deadline = time.monotonic() + limit
    while True:
        done, _ = ray.wait([ref], timeout=0.2)
        if done:
            return None
        why = "cancel" if cancel is not None and cancel.is_set() else \
            "timeout" if time.monotonic() >= deadline else None
        if why is not None:
            ray.cancel(ref)  # KeyboardInterrupt in the task: the job's group is ended
            done, _ = ray.wait([ref], timeout=10.0)
            if not done:
                ray.cancel(ref, force=True)
            return why


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    # RayTaskError: the last line holds the original exception
    return lines[-1] if lines else type(exc).__name__
