"""Bearer tokens, compared in constant time."""

from __future__ import annotations

import hmac

from pydantic import SecretStr
from starlette.requests import Request

from rampup.errors import AuthError, ForbiddenError


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _matches(given: str | None, expected: SecretStr) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.get_secret_value().encode())


def require_admin(request: Request, token: SecretStr | None) -> None:
    if token is None:
        raise ForbiddenError("admin operations are disabled because no admin token is set",
                             fix="start the server with RAMPUP_ADMIN_TOKEN set")
    given = bearer(request)
    if given is None:
        raise AuthError("this operation needs the admin token",
                        fix="send 'Authorization: Bearer <RAMPUP_ADMIN_TOKEN>'")
    if not _matches(given, token):
        raise AuthError("the admin token is wrong", fix="use the value of RAMPUP_ADMIN_TOKEN")


def require_predict(request: Request, predict_token: SecretStr | None,
                    admin_token: SecretStr | None) -> None:
    """When a predict token is configured, predictions need it (the admin token works too)."""
    if predict_token is None:
        return
    given = bearer(request)
    if given is None:
        raise AuthError("predictions need a token on this server",
                        fix="send 'Authorization: Bearer <RAMPUP_PREDICT_TOKEN>'")
    if _matches(given, predict_token) or (admin_token is not None and _matches(given, admin_token)):
        return
    raise AuthError("the prediction token is wrong", fix="use the value of RAMPUP_PREDICT_TOKEN")
