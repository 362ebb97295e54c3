"""Feedback: ground-truth labels and user events joined to predictions by request id.

Pure: turns validated feedback items into store records with idempotency keys. The same
item sent twice yields the same key, so the store keeps one row.

>>> item = FeedbackItem(request_id="abc", label=1, events=["clicked"])
>>> [(r.kind, r.name, r.value) for r in to_records(item, "loan", now=1.0)]
[('label', None, 1), ('event', 'clicked', 1)]
>>> first, again = to_records(item, "loan", now=1.0), to_records(item, "loan", now=2.0)
>>> first[0].dedupe_key == again[0].dedupe_key
True
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rampup.store import FeedbackRecord

KNOWN_EVENTS = ("repeated_query", "clicked", "switched_to_typing", "accepted", "rejected",
                "corrected", "abandoned")
EVENT_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description=f"e.g. {', '.join(KNOWN_EVENTS)}, or your own name")
    value: float | int | str | bool | None = Field(default=1, description="optional value")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not EVENT_RE.fullmatch(v):
            raise ValueError(f"event name {v!r} must match {EVENT_RE.pattern} "
                             f"(lowercase, e.g. {KNOWN_EVENTS[0]!r})")
        return v


class FeedbackItem(BaseModel):
    """A label and/or events for one prediction (its ``request_id`` or per-record ``id``)."""

    model_config = ConfigDict(extra="forbid")
    request_id: str = Field(min_length=1, max_length=64)
    label: Any = Field(default=None, description="the true outcome (JSON value)")
    events: list[Event | str] = Field(default_factory=list)
    feedback_id: str | None = Field(default=None, max_length=64,
                                    description="idempotency key; by default the content is")
    source: str = Field(default="user", max_length=64)
    stage: str | None = Field(default=None, max_length=63,
                              description="for a pipeline: the stage this feedback is about "
                                          "(default: the end-to-end output)")

    @model_validator(mode="after")
    def _something(self) -> FeedbackItem:
        if self.label is None and not self.events:
            raise ValueError("give a 'label', 'events' or both")
        self.events = [Event(name=e) if isinstance(e, str) else e for e in self.events]
        return self


def _key(*parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_NON_STR_KEYS)).hexdigest()[:64]


def to_records(item: FeedbackItem, model: str, now: float) -> list[FeedbackRecord]:
    out: list[FeedbackRecord] = []
    if item.label is not None:
        out.append(FeedbackRecord(item.request_id, model, now, "label", None, item.label,
                                  item.source, _key(item.request_id, "label", item.label,
                                                    item.source, item.feedback_id)))
    for ev in item.events:
        assert isinstance(ev, Event)
        out.append(FeedbackRecord(item.request_id, model, now, "event", ev.name, ev.value,
                                  item.source, _key(item.request_id, "event", ev.name, ev.value,
                                                    item.source, item.feedback_id)))
    return out
