"""A throwaway PostgreSQL cluster of a test's own (initdb + postgres on a free port of
127.0.0.1), started, stopped and restarted by PID, then removed. The server binaries
run as the ``postgres`` user when the tests run as root (PostgreSQL refuses root)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa


def bin_dir() -> Path | None:
    """The newest installed PostgreSQL's bin folder with initdb and postgres."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                   key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                   else 0)
    for d in reversed(found):
        if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists():
            return Path(d)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="rampup-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.logfile = self.root / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.user = "postgres" if os.geteuid() == 0 else None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self) -> dict[str, Any]:
        return {"user": self.user} if self.user else {}

    def init(self) -> PgCluster:
        self.root.chmod(0o755)
        self.sockets.mkdir()
        self.data.mkdir(mode=0o700)
        if self.user:
            pw = pwd.getpwnam(self.user)
            for p in (self.data, self.sockets):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        subprocess.run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
                       check=True, capture_output=True, **self._as_owner())
        return self

    def start(self, timeout: float = 60.0) -> None:
        self._log = open(self.logfile, "ab")  # noqa: SIM115 - kept for the server's life
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.sockets), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=off", "-c", "max_connections=100"],
            stdout=self._log, stderr=subprocess.STDOUT, **self._as_owner())
        deadline = time.monotonic() + timeout
        engine = sa.create_engine(self.url.replace("postgresql://", "postgresql+psycopg://"),
                                  connect_args={"connect_timeout": 2})
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        conn.execute(sa.text("SELECT 1"))
                    return
                except sa.exc.OperationalError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"postgres did not start: {self.log_tail()}"
                                           ) from None
                    time.sleep(0.1)
        finally:
            engine.dispose()

    def stop(self, timeout: float = 60.0) -> None:
        """Fast shutdown by PID (SIGINT): clients are disconnected at once."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def remove(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.logfile.read_text(errors="replace")[-n:]
        except OSError:
            return ""
