"""Privacy of the prediction log: what of an input may be kept, and in what form.

The project file marks fields (project-wide and per model):
``privacy: {ssn: drop, email: hash, name: mask}``.

* ``drop``: never stored anywhere (log, review items, shadow rows, dead letters, the
  monitor's aggregates).
* ``hash``: stored as a keyed hash, ``h:`` + HMAC-SHA256 under a per-project secret kept
  in the store (never in the log), so equal values still join and repeat queries are
  still detected, but nobody without the key can test a guess.
* ``mask``: a shape is kept (``j***@***.com``, ``A** L**``, ``1**-**-****``).

The scrubbing happens once, when a record leaves the request (before the monitor and
the log writer see it), so every later copy (exports, retraining datasets, the
dashboard) only ever holds the protected form. Error texts that quote a protected value
have it replaced (see :meth:`Privacy.scrub_text`).

>>> p = Privacy({"m": {"ssn": "drop", "email": "hash", "name": "mask"}}, key=b"k")
>>> out = p.scrub("m", {"ssn": "123-45-6789", "email": "ann@example.com", "name": "Ann Lee",
...                     "age": 41})
>>> sorted(out), out["name"], out["age"]
(['age', 'email', 'name'], 'A** L**', 41)
>>> out["email"] == p.scrub("m", {"email": "ann@example.com"})["email"] != "ann@example.com"
True
>>> mask("jane.doe@example.com")
'j***@***.com'
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any, Literal

Action = Literal["keep", "drop", "hash", "mask"]
ACTIONS: tuple[str, ...] = ("keep", "drop", "hash", "mask")
PROTECTED = ("drop", "hash", "mask")
SECRET_NAME = "privacy-hash-key"  # noqa: S105 - the name of a secret, not one
HIDDEN = "[protected]"


def protected_fields(project: Any, model: str) -> dict[str, str]:
    """``{field: drop|hash|mask}`` for one model: project-wide rules, those of every
    pipeline that runs the model as a stage (its rows hold the pipeline's inputs), then
    the model's own (the most specific wins; ``keep`` lifts a wider rule)."""
    found: dict[str, str] = {}
    spec = project.models.get(model)
    pipelines = [project.models[name] for name, pipe in project.pipelines().items()
                 if any(getattr(stage, "model", None) == model for stage in pipe.stages)]
    sources = [getattr(project, "privacy", None),
               *(getattr(p, "privacy", None) for p in pipelines), getattr(spec, "privacy", None)]
    for source in sources:
        fields = getattr(source, "fields", source)
        if isinstance(fields, Mapping):
            for name, action in fields.items():
                action = str(getattr(action, "value", action))
                if action in PROTECTED:
                    found[str(name)] = action
                elif action == "keep":
                    found.pop(str(name), None)
    return found


def protected_values(fields: Iterable[str], value: Any) -> list[str]:
    """The values of ``fields`` in a record (or list of records) as text, longest first:
    what must not appear in an error message or a log line about it.

    >>> protected_values({"ssn"}, [{"ssn": "123-45-6789", "age": 3}, {"ssn": 12}])
    ['123-45-6789', '12']
    """
    fields = frozenset(fields)
    if not fields:
        return []
    found: set[str] = set()
    for record in value if isinstance(value, list) else [value]:
        if isinstance(record, dict):
            for k in fields:
                v = record.get(k)
                if v is not None and not isinstance(v, bool):
                    text = v if isinstance(v, str) else repr(v)
                    if len(text) >= 2:  # one character in a message is no leak, and everywhere
                        found.add(text)
    return sorted(found, key=len, reverse=True)


def redact(text: str | None, secrets: list[str]) -> str | None:
    """``text`` with every protected value replaced by ``[protected]``.

    >>> redact("bad ssn 123-45-6789", ["123-45-6789"])
    'bad ssn [protected]'
    """
    if not text or not secrets:
        return text
    for s in secrets:
        text = text.replace(s, HIDDEN)
    return text


def check_inputs(project: Any, model: str, features: Iterable[str]) -> None:
    """Refuse a version that takes a dropped or hashed field as input while the model's
    retraining would learn from logged rows: those rows no longer hold the value the
    model saw, so the retrained model would learn from something else."""
    from rampup.errors import ConfigError

    spec = project.models.get(model)
    retrain = getattr(spec, "retrain", None)
    if retrain is None or not getattr(retrain, "log_rows", True):
        return
    rules = protected_fields(project, model)
    clash = sorted(f for f in features if rules.get(f) in ("drop", "hash"))
    if clash:
        raise ConfigError(
            f"{model} takes {', '.join(repr(c) for c in clash)} as input, which the privacy "
            f"rules {'drop' if all(rules[c] == 'drop' for c in clash) else 'drop or hash'} "
            "in the log, but its retraining learns from logged rows",
            field="privacy",
            fix=f"set models.{model}.retrain.log_rows: false (train on the reference data "
                "only), or mask/keep these fields instead")


def mask(value: Any) -> Any:
    """A shape of the value without its content (first letter of each word, separators,
    an e-mail's top-level domain)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "***"
    if "@" in value:
        local, _, domain = value.rpartition("@")
        tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
        return f"{local[:1]}***@***" + (f".{tld}" if tld else "")
    out = []
    start = True
    for ch in value:
        if ch.isalnum():
            out.append(ch if start and ch.isalpha() else "*")
            start = False
        else:
            out.append(ch)
            start = True
    return "".join(out)


class Privacy:
    """The rules of one project (``{model: {field: action}}``) and the hash key."""

    def __init__(self, rules: Mapping[str, Mapping[str, str]], key: bytes) -> None:
        self.rules = {m: dict(f) for m, f in rules.items() if f}
        self._key = key

    @classmethod
    def from_project(cls, project: Any, key: bytes,
                     models: Iterable[str] = ()) -> Privacy | None:
        """None when no field of any model is protected (nothing to do, zero cost)."""
        names = set(project.models) | set(models)
        rules = {m: protected_fields(project, m) for m in names}
        rules = {m: f for m, f in rules.items() if f}
        return cls(rules, key) if rules else None

    def fields(self, model: str) -> dict[str, str]:
        return self.rules.get(model, {})

    def hash(self, value: Any) -> str:
        text = value if isinstance(value, str) else repr(value)
        return "h:" + hmac.new(self._key, text.encode("utf-8", "surrogatepass"),
                               hashlib.sha256).hexdigest()[:32]

    def _apply(self, action: str, value: Any) -> Any:
        if value is None:
            return None
        sha = getattr(value, "sha256", None)
        if isinstance(sha, str):  # a decoded image/audio input: never its bytes or pixels
            return self.hash("sha256:" + sha) if action == "hash" else "***"
        if action == "hash":
            return self.hash(value)
        return mask(value)

    def scrub(self, model: str, value: Any) -> Any:
        """The value with this model's protected fields replaced (a record, a list of
        records, anything else unchanged). Never changes ``value`` itself."""
        rules = self.rules.get(model)
        if not rules:
            return value
        if isinstance(value, list):
            return [self._scrub_one(rules, v) for v in value]
        return self._scrub_one(rules, value)

    def _scrub_one(self, rules: Mapping[str, str], record: Any) -> Any:
        if not isinstance(record, dict) or not any(k in record for k in rules):
            return record
        out = {}
        for k, v in record.items():
            action = rules.get(k)
            if action is None:
                out[k] = v
            elif action != "drop":
                out[k] = self._apply(action, v)
        return out

    def secrets_in(self, model: str, value: Any) -> list[str]:
        return protected_values(self.rules.get(model, ()), value)

    def scrub_text(self, text: str | None, secrets: list[str]) -> str | None:
        return redact(text, secrets)

    def protect(self, records: Iterable[Any]) -> None:
        """Scrub prediction records in place (once: a record remembers it was)."""
        for r in records:
            if r.protected:
                continue
            r.protected = True
            rules = self.rules.get(r.model)
            if not rules:
                continue
            secrets = self.secrets_in(r.model, r.inputs)
            r.inputs = self.scrub(r.model, r.inputs)
            if r.error and secrets:
                r.error = self.scrub_text(r.error, secrets)
            if r.request_key is not None and secrets and r.request_key in secrets:
                r.request_key = self.hash(r.request_key)


def load_privacy(store: Any, project: Any, models: Iterable[str] = ()) -> Privacy | None:
    """The project's rules with the store's hash key (made on first use; every replica and
    every command of the project reads the same one)."""
    rules = Privacy.from_project(project, b"", models)
    if rules is None:
        return None
    return Privacy(rules.rules, store.credentials.secret(SECRET_NAME).encode())
