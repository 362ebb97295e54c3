"""The review queue's operations, shared by the HTTP API and the CLI: list, claim, next,
decide, skip, adjudicate. Rules are pure (:mod:`rampup.automation.consensus`); the store
does compare-and-set updates. Every call takes ``now`` so claim expiry is testable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from rampup.automation.consensus import match_choice, resolve
from rampup.automation.media import has_bytes, without_bytes
from rampup.automation.spec import AutomationSpec
from rampup.errors import ConflictError, NotFoundError, ValidationError
from rampup.store import Database, FeedbackRecord

SOURCE = "review"
STATUSES = ("open", "disputed", "decided", "uncertain")


def item_view(row: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """The public shape of an item (``suggestion`` hidden when the level hides it)."""
    out = {k: row[k] for k in ("id", "model", "version", "request_id", "created_at", "reason",
                                 "priority", "status", "inputs", "confidence", "choices",
                                 "reviewers_needed", "n_labels", "claimed_by", "claimed_until",
                                 "decided_at", "final_label", "decided_by")}
    out["suggestion"] = row["suggestion"] if row["show_suggestion"] else None
    if now is not None:
        out["age_s"] = max(0.0, (row["decided_at"] or now) - row["created_at"])
    return out


def feedback_for(item: dict[str, Any], label: Any, now: float) -> FeedbackRecord:
    key = hashlib.sha256(f"{SOURCE}:{item['id']}".encode()).hexdigest()[:64]
    return FeedbackRecord(item["id"], item["model"], now, "label", None, label, SOURCE, key)


class ReviewQueue:
    """Review operations on one store; ``spec_for(model)`` gives the model's settings."""

    def __init__(self, store: Database, spec_for: Callable[[str], AutomationSpec]) -> None:
        self.store = store
        self.spec_for = spec_for

    def get(self, model: str, item_id: str) -> dict[str, Any]:
        row = self.store.review.get_review_item(item_id)
        if row is None or row["model"] != model:
            raise NotFoundError(f"review item {item_id!r} of model {model!r} does not exist",
                                fix=f"list the queue: rampup review list {model}",
                                field="review_id")
        return row

    def list(self, model: str, status: str | None = "open", *, reason: str | None = None,
             limit: int = 100) -> list[dict[str, Any]]:
        if status is not None and status not in (*STATUSES, "pending"):
            raise ValidationError(f"unknown status {status!r}", field="status",
                                  fix=f"use one of {', '.join(STATUSES)}, pending (open + "
                                      "disputed) or leave it out")
        statuses = ["open", "disputed"] if status == "pending" else [status] if status else None
        return self.store.review.list_review_items(
            model, statuses=statuses, reasons=[reason] if reason else None, limit=limit)

    def next(self, model: str, reviewer: str, now: float) -> dict[str, Any] | None:
        reviewer = _reviewer(reviewer)
        return self.store.review.claim_next_review_item(model, reviewer, now,
                                                        self.spec_for(model).claim_ttl)

    def claim(self, model: str, item_id: str, reviewer: str, now: float) -> dict[str, Any]:
        reviewer = _reviewer(reviewer)
        row = self.get(model, item_id)
        _open(row)
        if not self.store.review.claim_review_item(item_id, reviewer, now,
                                                   self.spec_for(model).claim_ttl):
            row = self.get(model, item_id)
            _open(row)
            raise ConflictError(f"review item {item_id!r} is claimed by {row['claimed_by']!r} "
                                f"for {row['claimed_until'] - now:.0f} s more",
                                fix="take another item (next), or wait for the claim to "
                                    "expire", field="review_id")
        return self.get(model, item_id)

    def decide(self, model: str, item_id: str, reviewer: str, label: Any, now: float, *,
               note: str = "") -> dict[str, Any]:
        """One reviewer's label. The reviewer must hold a live claim on the item."""
        reviewer = _reviewer(reviewer)
        row = self.get(model, item_id)
        _open(row)
        label = self._label(model, row, label)
        self._holds_claim(row, reviewer, now)
        existing = self.store.review.list_review_labels(model, item_ids=[item_id])
        if any(r["reviewer"] == reviewer for r in existing):
            raise ConflictError(f"{reviewer!r} already labelled review item {item_id!r}",
                                fix="each reviewer labels an item once; another reviewer "
                                    "(or an adjudicator) can add a label", field="reviewer")
        spec = self.spec_for(model)
        labels = [r["label"] for r in existing] + [label]
        status, final = resolve(labels, row["reviewers_needed"], spec.uncertain_label)
        update: dict[str, Any] = {"status": status, "n_labels": len(labels),
                                  "claimed_by": None, "claimed_until": None}
        fb = None
        if status in ("decided", "uncertain"):
            update.update(final_label=final, decided_at=now,
                          decided_by=reviewer if len(labels) == 1 else "consensus",
                          **_closed_inputs(row))
            fb = feedback_for(row, final, now) if status == "decided" else None
        if not self.store.review.add_review_label(item_id, row["revision"], update, model=model,
                                                  reviewer=reviewer, kind="label", label=label,
                                                  now=now, note=note, feedback=fb):
            raise ConflictError(f"review item {item_id!r} changed while deciding",
                                fix="fetch it again and retry", field="review_id")
        return self.get(model, item_id)

    def adjudicate(self, model: str, item_id: str, adjudicator: str, label: Any, now: float,
                   *, note: str = "") -> dict[str, Any]:
        """Set the final label of an open or disputed item (no claim needed)."""
        adjudicator = _reviewer(adjudicator)
        row = self.get(model, item_id)
        _open(row)
        label = self._label(model, row, label)
        spec = self.spec_for(model)
        status = "uncertain" if spec.uncertain_label is not None and \
            label == spec.uncertain_label else "decided"
        update = {"status": status, "final_label": label, "decided_at": now,
                  "decided_by": f"adjudicator:{adjudicator}", "claimed_by": None,
                  "claimed_until": None, **_closed_inputs(row)}
        fb = feedback_for(row, label, now) if status == "decided" else None
        if not self.store.review.add_review_label(item_id, row["revision"], update, model=model,
                                                  reviewer=adjudicator, kind="adjudicate",
                                                  label=label, now=now, note=note, feedback=fb):
            raise ConflictError(f"review item {item_id!r} changed while adjudicating",
                                fix="fetch it again and retry", field="review_id")
        return self.get(model, item_id)

    def skip(self, model: str, item_id: str, reviewer: str, now: float,
             note: str = "") -> dict[str, Any]:
        """Give the item back; ``next`` will not offer it to this reviewer again."""
        reviewer = _reviewer(reviewer)
        row = self.get(model, item_id)
        _open(row)
        self._holds_claim(row, reviewer, now)
        update = {"claimed_by": None, "claimed_until": None}
        if not self.store.review.add_review_label(item_id, row["revision"], update, model=model,
                                                  reviewer=reviewer, kind="skip", label=None,
                                                  now=now, note=note):
            raise ConflictError(f"review item {item_id!r} changed while skipping",
                                fix="fetch it again and retry", field="review_id")
        return self.get(model, item_id)

    def _label(self, model: str, row: dict[str, Any], label: Any) -> Any:
        if label is None or label == "":
            raise ValidationError("the label is missing", field="label",
                                  fix=_choices_fix(row, self.spec_for(model)))
        allowed = choices(row, self.spec_for(model))
        try:
            return match_choice(label, allowed)
        except LookupError:
            raise ValidationError(f"label {label!r} is not one of this item's labels",
                                  field="label", fix=_choices_fix(row, self.spec_for(model)),
                                  allowed=allowed) from None

    @staticmethod
    def _holds_claim(row: dict[str, Any], reviewer: str, now: float) -> None:
        by, until = row["claimed_by"], row["claimed_until"]
        if by == reviewer and until is not None and until >= now:
            return
        item = row["id"]
        if by == reviewer:
            raise ConflictError(f"your claim on review item {item!r} expired {now - until:.0f}"
                                " s ago", fix="claim it again (POST .../claim or next) and "
                                "decide within the claim time", field="review_id")
        if by is not None and until is not None and until >= now:
            raise ConflictError(f"review item {item!r} is claimed by {by!r}",
                                fix="take another item with next", field="review_id")
        raise ConflictError(f"{reviewer!r} has not claimed review item {item!r}",
                            fix="claim it first (POST .../claim or next)", field="review_id")


def choices(row: dict[str, Any], spec: AutomationSpec) -> list[Any] | None:
    """The labels a reviewer may give an item: its choices plus the uncertain label."""
    base = row["choices"]
    if base is None:
        return None
    extra = [spec.uncertain_label] if spec.uncertain_label and \
        spec.uncertain_label not in base else []
    return [*base, *extra]


def _choices_fix(row: dict[str, Any], spec: AutomationSpec) -> str:
    allowed = choices(row, spec)
    if allowed is None:
        return "send 'label': the correct output (any JSON value)"
    return "send 'label' as one of: " + ", ".join(repr(c) for c in allowed)


def _closed_inputs(row: dict[str, Any]) -> dict[str, Any]:
    """The update that drops a closing item's media bytes (kept only while it waits)."""
    return {"inputs": without_bytes(row["inputs"])} if has_bytes(row["inputs"]) else {}


def _open(row: dict[str, Any]) -> None:
    if row["status"] not in ("open", "disputed"):
        raise ConflictError(f"review item {row['id']!r} is already {row['status']} "
                            f"(final label {row['final_label']!r} by {row['decided_by']})",
                            fix="take another item with next", field="review_id")


def _reviewer(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError("the reviewer is missing", field="reviewer",
                              fix="send the 'x-reviewer' header or a 'reviewer' field "
                                  "(CLI: --reviewer)")
    if len(name) > 200:
        raise ValidationError("the reviewer name is longer than 200 characters",
                              field="reviewer", fix="use a shorter name")
    return name
