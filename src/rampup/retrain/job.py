"""The training job: the entry point in a subprocess, with a timeout and a captured log.

A ``module:function`` entry point runs as ``python -m rampup.retrain.worker`` (see
:mod:`rampup.retrain.worker`); a ``command`` runs through the shell with its
placeholders filled in (each quoted). The child gets its own process group, so a
timeout ends the whole tree. The project folder is the working directory and is on
``PYTHONPATH``, so entry points that live in the project import.

>>> argv = command_argv("python t.py {dataset} {output}", {"dataset": "a b.parquet",
...                                                       "output": "m.joblib"})
>>> argv
"python t.py 'a b.parquet' m.joblib"
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TAIL_CHARS = 4000
POLL_S = 0.2


@dataclass(frozen=True)
class JobResult:
    returncode: int | None
    timed_out: bool
    seconds: float
    log_path: str
    log_tail: str
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.cancelled

    def failure(self) -> str:
        if self.cancelled:
            return "cancelled: the server stopped during the run"
        if self.timed_out:
            return f"the training entry point timed out after {self.seconds:.1f} s"
        last = [line for line in self.log_tail.strip().splitlines() if line.strip()]
        hint = f": {last[-1].strip()}" if last else ""
        return f"the training entry point exited with code {self.returncode}{hint}"


def command_argv(command: str, values: dict[str, str]) -> str:
    """The shell command with ``{dataset}``, ``{output}``... replaced by quoted paths."""
    quoted = {k: shlex.quote(v) for k, v in values.items()}
    out = command
    for key, value in quoted.items():
        out = out.replace("{" + key + "}", value)
    return out


def worker_argv(entry_point: str, values: dict[str, str]) -> list[str]:
    argv = [sys.executable, "-m", "rampup.retrain.worker", entry_point]
    for key, value in values.items():
        argv += [f"--{key}", value]
    return argv


def tail(path: Path, chars: int = TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - chars))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def run_job(argv: list[str] | str, *, cwd: Path, log_path: Path, timeout: float,
            env: dict[str, str] | None = None,
            cancel: threading.Event | None = None) -> JobResult:
    """Run ``argv`` (a list, or a shell string) and wait at most ``timeout`` seconds;
    setting ``cancel`` ends it early (the server is stopping)."""
    environ = dict(os.environ)
    environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(cwd), environ.get("PYTHONPATH", "")) if p)
    environ.setdefault("OMP_NUM_THREADS", "1")
    environ.update(env or {})
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=environ, shell=isinstance(argv, str), start_new_session=True)
        timed_out = cancelled = False
        deadline = started + timeout
        code: int | None = None
        try:
            while code is None:
                try:
                    code = proc.wait(min(POLL_S, max(deadline - time.monotonic(), 0.0)))
                except subprocess.TimeoutExpired:
                    cancelled = cancel is not None and cancel.is_set()
                    timed_out = time.monotonic() >= deadline
                    if cancelled or timed_out:
                        _kill_group(proc)
                        code = proc.returncode
        except BaseException:  # Ctrl-C in the CLI: the job's own session would outlive us
            _kill_group(proc)
            raise
    return JobResult(code, timed_out and not cancelled, time.monotonic() - started,
                     str(log_path), tail(log_path), cancelled)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
