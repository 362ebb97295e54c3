"""The demo's server: uvicorn serving the app from a daemon thread on 127.0.0.1.

>>> sock = bind_port(0)
>>> sock.getsockname()[0]
'127.0.0.1'
>>> sock.close()
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from typing import Any

import uvicorn

from rampup.errors import ConflictError, RampupError

HOST = "127.0.0.1"
PORT_TRIES = 11  # the asked port and the next 10


class BackgroundServer:
    """uvicorn serving an ASGI app on 127.0.0.1 from a daemon thread (own event loop)."""

    def __init__(self, app: Any, *, port: int = 0, tries: int = PORT_TRIES) -> None:
        self._sock = bind_port(port, tries)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://{HOST}:{self.port}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="on", ws="none", timeout_graceful_shutdown=10)
        self.server = uvicorn.Server(config)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="rampup-demo-server",
                                        daemon=True)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit from a failed startup, too
            self.error = exc

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        """Start serving; return once the app's startup (models loaded) is done."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                why = f" ({type(self.error).__name__}: {self.error})" if self.error else ""
                raise RampupError(f"the demo server did not start{why}",
                                  fix="see the log lines above; rerun with --fresh to "
                                      "rebuild the demo project")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown: in-flight requests finish and the prediction log drains."""
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()


def bind_port(port: int, tries: int = PORT_TRIES) -> socket.socket:
    """A socket bound to 127.0.0.1 on ``port`` or, if busy, one of the next ports
    (``port=0``: any free port)."""
    candidates = [0] if port == 0 else list(range(port, min(port + tries, 65536)))
    for candidate in candidates:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                continue
            raise
        return sock
    raise ConflictError(f"ports {candidates[0]}-{candidates[-1]} on {HOST} are all in use",
                        fix="pass another --port (0 picks any free port)")
