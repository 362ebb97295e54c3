"""Named tokens: generated once, shown once, stored only as a SHA-256 digest.

Tokens are 32 random bytes, so a plain (unsalted) digest is enough: nobody can guess a
preimage, and the digest doubles as the lookup key (one indexed query per check).

>>> t = new_token("adm")
>>> t.startswith("rpu_adm_") and len(t) > 40
True
>>> hash_token(t) == hash_token(t) != hash_token(t + "x")
True
>>> check_token_name("ops-2026")
'ops-2026'
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from rampup.errors import ValidationError

Kind = Literal["admin", "reviewer"]
KINDS: tuple[Kind, ...] = ("admin", "reviewer")
ROLES = ("reviewer", "lead")
TOKEN_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,62}")
#: the name under which the RAMPUP_ADMIN_TOKEN environment token acts
ENV_ADMIN = "env"


def new_token(prefix: str) -> str:
    """A fresh secret token; the prefix says what it is when it turns up in a log."""
    return f"rpu_{prefix}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_token_name(name: str) -> str:
    if not TOKEN_NAME.fullmatch(name):
        raise ValidationError(f"invalid token name {name!r}", field="name",
                              fix="use lowercase letters, digits, '.', '_', '@' or '-', "
                                  "starting with a letter or digit, at most 63")
    return name


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: an admin token's name, or a reviewer and their role."""

    kind: Literal["admin", "reviewer", "open"]
    name: str
    role: str | None = None

    @property
    def actor(self) -> str:
        """How events and labels name it (``admin:ops``, ``alice``)."""
        return f"admin:{self.name}" if self.kind == "admin" else self.name

    @property
    def is_lead(self) -> bool:
        return self.kind == "admin" or self.role == "lead"
