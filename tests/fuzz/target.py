"""A throwaway project served by a real ``rampup serve``, and a schemathesis run over its
``/openapi.json`` that counts operations, cases and server errors.

Shared by the suite's short fuzz run (tests/fuzz/test_openapi_fuzz.py) and the long one
(benchmarks/fuzz.py). The project has one scikit-learn model with a typed input schema
(int, float, nullable float, categorical string), partial automation (a review queue),
a retraining section and alert rules, so with the admin token the fuzzer reaches
registration, deployments, rollouts, review, alerts and retraining runs. Every operation
is driven with schema-valid (positive) and schema-violating (negative) cases.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import joblib
import yaml

ADMIN = "fuzz-admin-token"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Served:
    url: str
    project: Path
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class FuzzResult:
    """What a run saw: per operation label, the cases sent and the 5xx answers."""

    cases: Counter[str] = field(default_factory=Counter)
    server_errors: list[tuple[str, int, str, str]] = field(default_factory=list)
    transport_errors: list[tuple[str, str]] = field(default_factory=list)
    operations: int = 0
    unsatisfiable: list[str] = field(default_factory=list)  # no invalid case exists
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.cases.values())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(root: Path, database_url: str | None = None) -> Path:
    """The model, its reference data and ``rampup.yaml`` (registration is the CLI's)."""
    from tests.retrain.conftest import retrain_section
    from tests.serving.conftest import fit, make_frame

    root.mkdir(parents=True, exist_ok=True)
    df = make_frame(600, seed=1)
    joblib.dump(fit(df, 1.0), root / "model.joblib")
    df.to_parquet(root / "reference.parquet", index=False)
    project: dict[str, Any] = {"models": {"credit": {
        "automation": {"level": "partial", "threshold": 0.6},
        "retrain": retrain_section(reference=str(root / "reference.parquet"),
                                   timeout="30s"),
        "alerts": [{"name": "errors", "condition": "error_rate > 0.5", "for": "1m"}],
    }}}
    if database_url:
        project["database_url"] = database_url
    (root / "rampup.yaml").write_text(yaml.safe_dump(project))
    return root


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL on the test PostgreSQL whose search path is a new schema, dropped
    afterwards (as tests/conftest.py's ``pg_url``)."""
    import uuid

    import sqlalchemy as sa

    from rampup.store.engine import normalise_url
    from tests.conftest import PG_URL

    schema = f"fuzz_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _cli(root: Path, *args: str) -> None:
    env = _env()
    subprocess.run([sys.executable, "-m", "rampup", "-p", str(root), *args], env=env,
                   check=True, capture_output=True, cwd=ROOT)


def _env() -> dict[str, str]:
    env = {**os.environ, "RAMPUP_ADMIN_TOKEN": ADMIN,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("RAMPUP_DATABASE_URL", None)
    return env


@contextmanager
def serve(root: Path) -> Iterator[Served]:
    """Register v1 with the CLI, then run ``rampup serve`` on a free port (stopped by PID)."""
    _cli(root, "register", "credit", str(root / "model.joblib"), "--reference",
         str(root / "reference.parquet"), "--label-column", "y")
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rampup", "-p", str(root), "serve",
                                 "--port", str(port)], env=_env(), stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=5.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("server did not become ready in 180 s")
            time.sleep(0.2)
        yield Served(url, root, proc, log)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fuzz(url: str, *, examples: int, admin: bool, seed: int = 0,
         result: FuzzResult | None = None, progress: Any = None) -> FuzzResult:
    """Send up to ``examples`` positive and ``examples`` negative cases to every operation
    of the server's OpenAPI document; count them and every 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from schemathesis.generation import GenerationMode

    result = result or FuzzResult()
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    headers = {"authorization": f"Bearer {ADMIN}"} if admin else {}
    operations = [r.ok() for r in schema.get_all_operations()]
    result.operations = max(result.operations, len(operations))
    who = "admin" if admin else "anonymous"
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{op.label} [{mode.value}, {who}]"
            send = _sender(url, headers, label, result)
            run = hseed(seed)(settings(
                max_examples=examples, deadline=None, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck))(
                    given(case=op.as_strategy(generation_mode=mode))(send)))
            try:
                run()
            except Unsatisfiable:  # no invalid value exists (e.g. only string parameters)
                result.unsatisfiable.append(label)
            except Exception as exc:  # a strategy that cannot be built is a finding
                result.transport_errors.append((label, f"generation: {type(exc).__name__}: "
                                                       f"{str(exc)[:200]}"))
            if progress is not None:
                progress()
    return result


def _sender(url: str, headers: dict[str, str], label: str,
            result: FuzzResult) -> Any:
    """The test body for one operation and mode: send the case, count what came back."""

    def send(case: Any) -> None:
        result.cases[label] += 1
        try:
            r = case.call(base_url=url, headers=headers, timeout=60)
        except Exception as exc:  # a transport failure (the server gone?) is a finding
            result.transport_errors.append((label, f"{type(exc).__name__}: {exc}"))
            return
        result.statuses[r.status_code] += 1
        if r.status_code >= 500 and r.status_code != 503:  # 503: an honest "not now"
            result.server_errors.append((label, r.status_code, _describe(case), r.text[:300]))

    return send


def _describe(case: Any) -> str:
    body = getattr(case, "body", None)
    text = repr(body)
    path = getattr(case, "formatted_path", None) or case.path
    return (f"{case.method} {path} query={case.query!r} "
            f"body={text[:300]}")
