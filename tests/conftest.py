"""Shared fixtures: fresh SQLite file per test, a fresh PostgreSQL schema per test.

PostgreSQL tests use ``RAMPUP_TEST_POSTGRES_URL`` (default: the local server on
127.0.0.1:5432, database ``test``). Outside CI an unreachable server skips them; with
``CI=true`` it fails loudly, because CI must exercise the real database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rampup.store import Database
from rampup.store.engine import normalise_url
from tests.s3server import s3_bucket, s3_server  # noqa: F401 (fixtures: one S3 server a session)

# mlflow (a test extra) would send usage telemetry from tests and the servers they start
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# hundreds of apps start in one test process: freezing each one's heap (a server does it
# once) would keep their cycles forever; tests/serving/test_heap.py turns it on itself
os.environ.setdefault("RAMPUP_GC_FREEZE", "false")

PG_URL = os.environ.get("RAMPUP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def tool_or_skip(name: str, package: str | None = None) -> str:
    """The path of the program ``name``; skip without it, fail when ``CI=true`` (``make
    test`` installs it, so a CI run without it would silently test less)."""
    import shutil

    path = shutil.which(name)
    if path is not None:
        return path
    fix = f"apt-get install -y {package or name} (make test does)"
    if IN_CI:
        pytest.fail(f"CI=true but {name} is not installed: {fix}", pytrace=False)
    pytest.skip(f"{name} is not installed: {fix}; set CI=true to make this fail")


def _pg_reachable() -> str | None:
    try:
        engine = sa.create_engine(normalise_url(PG_URL), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any driver or network error means "not reachable"
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def pg_available() -> bool:
    problem = _pg_reachable()
    if problem is None:
        return True
    if IN_CI:
        pytest.fail(f"CI=true but PostgreSQL at {PG_URL} is unreachable: {problem}. "
                    "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) "
                    "main start", pytrace=False)
    pytest.skip(f"PostgreSQL at {PG_URL} unreachable ({problem}); set CI=true to make this fail")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rampup.db'}"


@pytest.fixture
def pg_url(pg_available: bool) -> Iterator[str]:
    """A URL whose search_path is a brand-new schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(PG_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Parametrises a test over both store backends (the contract)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rampup.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Database]:
    s = Database.open(db_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Database]:
    s = Database.open(sqlite_url)
    yield s
    s.close()
