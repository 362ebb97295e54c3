"""Who a request acts as: bearer tokens, compared in constant time or by digest.

Three kinds of credential: the ``RAMPUP_ADMIN_TOKEN``/``RAMPUP_PREDICT_TOKEN`` settings
(one each, fixed for the process) and named tokens kept hashed in the store (admin and
reviewer tokens, added and revoked with ``rampup tokens``/``rampup reviewers`` while
the server runs; :class:`TokenBook` caches lookups for ``ttl`` seconds, so a revocation
reaches every replica within that). The admin that acted is noted for the audit event
the guard middleware records (:mod:`rampup.serving.guard`).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from starlette.requests import Request

from rampup.errors import AuthError, ForbiddenError
from rampup.security.tokens import ENV_ADMIN, Principal, hash_token

if TYPE_CHECKING:
    from rampup.store import Database

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: where the guard middleware leaves a dict for the audit record of this request
AUDIT_KEY = "rampup.audit"


class TokenBook:
    """Named tokens from the store, cached briefly (positive and negative answers)."""

    def __init__(self, store: Database, ttl: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def lookup(self, token: str) -> dict[str, Any] | None:
        digest = hash_token(token)
        now = self.clock()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self.store.credentials.find_token(digest)
        with self._lock:
            if len(self._cache) > 4096:  # wrong tokens must not grow it without bound
                self._cache.clear()
            self._cache[digest] = (now + self.ttl, row)
        return row

    def count(self, kind: str) -> int:
        now = self.clock()
        with self._lock:
            hit = self._counts.get(kind)
        if hit is not None and hit[0] > now:
            return hit[1]
        n = self.store.credentials.count_tokens(kind)
        with self._lock:
            self._counts[kind] = (now + self.ttl, n)
        return n


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _matches(given: str | None, expected: SecretStr | None) -> bool:
    if given is None or expected is None:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def _book(request: Request) -> TokenBook | None:
    st = getattr(request.app.state, "rampup", None)
    return getattr(st, "tokens", None)


def _named(request: Request, given: str) -> dict[str, Any] | None:
    book = _book(request)
    return None if book is None else book.lookup(given)


def _note(request: Request, principal: Principal) -> Principal:
    audit = request.scope.get(AUDIT_KEY)
    if isinstance(audit, dict):
        audit["principal"] = principal
        audit["model"] = request.path_params.get("name")
    return principal


def admin_principal(request: Request, token: SecretStr | None) -> Principal | None:
    """The admin this request's bearer token names, or None."""
    given = bearer(request)
    if given is None:
        return None
    if _matches(given, token):
        return Principal("admin", ENV_ADMIN)
    row = _named(request, given)
    if row is not None and row["kind"] == "admin":
        return Principal("admin", row["name"])
    return None


def require_admin(request: Request, token: SecretStr | None) -> Principal:
    """The acting admin (``token``: the RAMPUP_ADMIN_TOKEN setting; named admin tokens
    from the store work too); 401/403 otherwise."""
    found = admin_principal(request, token)
    if found is not None:
        return _note(request, found)
    book = _book(request)
    if token is None and (book is None or book.count("admin") == 0):
        raise ForbiddenError("admin operations are disabled because no admin token is set",
                             fix="create one with 'rampup tokens add NAME' or start the "
                                 "server with RAMPUP_ADMIN_TOKEN set")
    if bearer(request) is None:
        raise AuthError("this operation needs an admin token",
                        fix="send 'Authorization: Bearer <admin token>'")
    raise AuthError("the admin token is wrong or revoked",
                    fix="use a token from 'rampup tokens add' or RAMPUP_ADMIN_TOKEN")


def require_predict(request: Request, predict_token: SecretStr | None,
                    admin_token: SecretStr | None) -> None:
    """When a predict token is configured, predictions and reads need it (admin and
    reviewer tokens work too)."""
    if predict_token is None:
        return
    given = bearer(request)
    if given is None:
        raise AuthError("predictions need a token on this server",
                        fix="send 'Authorization: Bearer <RAMPUP_PREDICT_TOKEN>'")
    if _matches(given, predict_token) or _matches(given, admin_token):
        return
    if _named(request, given) is not None:
        return
    raise AuthError("the prediction token is wrong", fix="use the value of RAMPUP_PREDICT_TOKEN")


def reviewers_configured(request: Request) -> bool:
    book = _book(request)
    return book is not None and book.count("reviewer") > 0


def queue_is_open(request: Request, host: str) -> bool:
    """No reviewer configured and the server bound to loopback: anyone on this machine
    may review under a name of their choosing (local trials)."""
    return host in LOOPBACK and not reviewers_configured(request)


def require_reviewer(request: Request, *, host: str, predict_token: SecretStr | None,
                     admin_token: SecretStr | None, claimed: str = "") -> Principal:
    """Who decides: the reviewer (or admin) the bearer token names. Only an open queue
    (see :func:`queue_is_open`) takes a name without a credential."""
    given = bearer(request)
    if given is not None:
        row = _named(request, given)
        if row is not None and row["kind"] == "reviewer":
            return Principal("reviewer", row["name"], row["role"] or "reviewer")
        admin = admin_principal(request, admin_token)
        if admin is not None:
            return _note(request, admin)
    if queue_is_open(request, host):
        require_predict(request, predict_token, admin_token)
        return Principal("open", claimed.strip()[:255])
    if not reviewers_configured(request):
        raise ForbiddenError("the review queue is closed: no reviewer is configured and the "
                             "server is not on a loopback address",
                             fix="add reviewers with 'rampup reviewers add NAME'")
    if given is None:
        raise AuthError("reviewing needs a reviewer token",
                        fix="send 'Authorization: Bearer <token from rampup reviewers add>'")
    raise AuthError("the reviewer token is wrong or revoked",
                    fix="ask an admin for a token ('rampup reviewers add NAME')")
