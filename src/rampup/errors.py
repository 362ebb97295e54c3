"""One error hierarchy for rampup.

Every error carries a message that says what was wrong and what to do about it.
The HTTP edge maps these classes to status codes in one place
(:mod:`rampup.serving.errors`); nothing here imports a web framework.

>>> err = ValidationError("feature 'age' is missing", field="age", fix="send 'age' as a number")
>>> str(err)
"feature 'age' is missing; fix: send 'age' as a number"
>>> err.to_dict()["field"]
'age'
"""

from __future__ import annotations

from typing import Any


class RampupError(Exception):
    """Base class of every error rampup raises on purpose."""

    code = "rampup_error"

    def __init__(self, message: str, *, fix: str | None = None, **details: Any) -> None:
        self.message = message
        self.fix = fix
        self.details = details
        super().__init__(f"{message}; fix: {fix}" if fix else message)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fix:
            out["fix"] = self.fix
        out.update({k: v for k, v in self.details.items() if v is not None})
        return out


class ConfigError(RampupError):
    """A setting or the project file is invalid."""

    code = "config_error"


class NotFoundError(RampupError):
    """A model, version, request or other named thing does not exist."""

    code = "not_found"


class ConflictError(RampupError):
    """The request conflicts with the current state (e.g. a version that already exists)."""

    code = "conflict"


class SupersededError(ConflictError):
    """A decision was made on a deployment or rollout revision that is no longer current,
    so it changed nothing (recorded as an info event). Automated actors carry on; a
    person sees it as a conflict and looks again."""

    code = "superseded"


class RetrainRefusedError(ConflictError):
    """A retraining run may not start now (a guard: cooldown, data, concurrency, ...)."""

    code = "retrain_refused"


class ValidationError(RampupError):
    """Input data does not match what the model expects."""

    code = "invalid_input"


class MalformedRequestError(ValidationError):
    """The request body cannot be parsed at all (e.g. invalid JSON)."""

    code = "malformed_request"


class PayloadTooLargeError(ValidationError):
    """The request body or the number of records is over the configured limit."""

    code = "payload_too_large"


class AuthError(RampupError):
    """A missing or wrong bearer token."""

    code = "unauthorized"


class ForbiddenError(RampupError):
    """The operation is not allowed with the given credentials or configuration."""

    code = "forbidden"


class ModelError(RampupError):
    """The model raised while predicting or could not be loaded."""

    code = "model_error"


class FlavorError(RampupError):
    """An artifact could not be recognised or loaded by any flavor."""

    code = "flavor_error"


class MissingExtraError(RampupError):
    """An optional dependency is needed; the message names the extra to install."""

    code = "missing_extra"

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed",
            fix=f"pip install 'rampup[{extra}]'",
            package=package,
            extra=extra,
        )


class StoreError(RampupError):
    """The store could not be reached or a migration failed."""

    code = "store_error"


class OverloadedError(RampupError):
    """The server is over capacity (queue full); retry later."""

    code = "overloaded"
