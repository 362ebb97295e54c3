"""The guard at the door: same-origin state changes, security headers, the admin audit.

* **Origin.** Browsers send ``Origin`` (or at least ``Referer``) with every POST, PUT,
  PATCH and DELETE; curl and SDKs send neither. A state-changing request whose Origin or
  Referer names another site is refused with 403, so a page on another site cannot make
  a reviewer's browser decide, send feedback or deploy (and accepting JSON whatever the
  content-type says, :mod:`rampup.serving.jsonbody`, stays safe). Extra trusted origins
  (a proxy that rewrites ``Host``) come from ``RAMPUP_ALLOWED_ORIGINS``.
* **Headers.** Every HTML page gets a strict Content-Security-Policy (no inline script,
  nothing from elsewhere), ``frame-ancestors 'none'``, ``X-Frame-Options: DENY``,
  ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy``; a route that sets its own
  CSP (the API docs, which need inline script) keeps it.
* **Audit.** A state-changing request an admin token authorised is recorded as an
  ``admin.request`` event naming the token, the client address, method, path and status.

>>> same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
True
>>> same_origin("https://evil.example", "127.0.0.1:8000")
False
>>> same_origin("https://rampup.example.com", "rampup.example.com:443")
True
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rampup.serving.auth import AUDIT_KEY

log = logging.getLogger("rampup.serving")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
PAGE_HEADERS = [(b"content-security-policy", CSP.encode()),
                (b"x-frame-options", b"DENY"),
                (b"referrer-policy", b"same-origin")]
ALWAYS = [(b"x-content-type-options", b"nosniff")]
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}


def _netloc(url: str) -> str | None:
    """``host[:port]`` of a URL, lowercase, without the scheme's default port."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not parts.scheme or not host:
        return None
    if port is None or str(port) == _DEFAULT_PORTS.get(parts.scheme):
        return host.lower() if ":" not in host else f"[{host.lower()}]"
    return f"{host.lower()}:{port}" if ":" not in host else f"[{host.lower()}]:{port}"


def _strip_default(host: str) -> str:
    host = host.strip().lower()
    for port in (":80", ":443"):
        if host.endswith(port):
            return host[: -len(port)]
    return host


def same_origin(origin: str, host: str, allowed: frozenset[str] = frozenset()) -> bool:
    """Whether ``origin`` (an Origin or Referer value) is this server (its ``Host``
    header) or one of the ``allowed`` origins."""
    if origin.rstrip("/") in allowed:
        return True
    net = _netloc(origin)
    return net is not None and (net == _strip_default(host)
                                or any(net == _netloc(a) for a in allowed))


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return str(v.decode("latin-1"))
    return None


class Guard:
    """Pure ASGI middleware (outermost): see the module docstring."""

    def __init__(self, app: ASGIApp, allowed_origins: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.allowed = frozenset(o.rstrip("/") for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, _with_headers(send))
            return
        refused = self._cross_site(scope)
        if refused is not None:
            await _forbidden(send, refused)
            return
        audit: dict[str, Any] = {}
        scope[AUDIT_KEY] = audit
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, send_status)
        if "principal" in audit:
            await record_audit(scope, audit, status[0] if status else 0)

    def _cross_site(self, scope: Scope) -> str | None:
        host = _header(scope, b"host") or ""
        origin = _header(scope, b"origin")
        if origin is not None:
            if origin == "null" or not same_origin(origin, host, self.allowed):
                return f"Origin {origin!r}"
            return None
        referer = _header(scope, b"referer")
        if referer is not None and not same_origin(referer, host, self.allowed):
            return f"Referer {_netloc(referer) or 'of another site'!r}"
        return None


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            extra = [h for h in ALWAYS if h[0] not in names]
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if ctype.startswith(b"text/html"):
                extra += [h for h in PAGE_HEADERS if h[0] not in names]
            if extra:
                message = {**message, "headers": headers + extra}
        await send(message)
    return wrapped


async def _forbidden(send: Send, what: str) -> None:
    body = orjson.dumps({
        "error": "forbidden", "field": "origin",
        "message": f"cross-site request refused: {what} is not this server",
        "fix": "send state-changing requests from rampup's own pages, or without an Origin "
               "header (curl, SDKs); trust another origin with RAMPUP_ALLOWED_ORIGINS"})
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *ALWAYS]})
    await send({"type": "http.response.body", "body": body})


async def record_audit(scope: Scope, audit: dict[str, Any], status: int) -> None:
    """Write the ``admin.request`` event of a request an admin token authorised."""
    st = getattr(scope["app"].state, "rampup", None) if "app" in scope else None
    if st is None:
        return
    client = scope.get("client")
    details = {"method": scope["method"], "path": scope["path"], "status": status,
               "client": client[0] if client else None}
    try:
        await asyncio.to_thread(st.store.events.add_event, audit["principal"].actor,
                                "admin.request",
                                model=audit.get("model"), details=details)
    except Exception as exc:  # the action happened; a lost audit row must be visible
        log.error("could not record the admin audit event %s: %s", details, exc)
