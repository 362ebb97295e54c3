"""The demo's simulated reviewer against the real app."""

from __future__ import annotations

import httpx
import pytest

from rampup.store import Database
from rampup_demo.reviewer import review, status
from tests.automation.conftest import flushed, predict_many
from tests.serving.conftest import Trained


@pytest.mark.parametrize("automation", [{"level": "ai_assist"}], indirect=True)
async def test_reviewer_works_through_the_queue(client: httpx.AsyncClient, trained: Trained,
                                                store: Database) -> None:
    preds = (await predict_many(client, trained.frame, 12))["predictions"]
    stats = await review("http://rampup", "credit", accuracy=0.5, seconds_per_item=(0, 0),
                         seed=3, truth=lambda item: 1, until_empty=True, client=client)
    assert stats.decided == 12
    labels = [store.feedback.list_feedback(p["id"])[0].value for p in preds]
    assert labels.count(0) == stats.errors  # the deliberate errors, all others the truth
    assert 0 < stats.errors < 12
    again = await review("http://rampup", "credit", max_items=1, duration=0.3,
                         idle_wait=0.05, client=client)
    assert again.decided == 0  # the queue is empty; stops at the deadline
    line = await status("http://rampup", "credit", client=client)
    assert line.startswith("credit [ai_assist] automated 0.0% · queue 0")


async def test_reviewer_defaults_to_the_suggestion(client: httpx.AsyncClient,
                                                   trained: Trained, store: Database) -> None:
    preds = (await predict_many(client, trained.frame, 40))["predictions"]
    await flushed(client)
    stats = await review("http://rampup", "credit", accuracy=1.0, seconds_per_item=(0, 0),
                         max_items=3, client=client)
    assert stats.decided == 3
    assert stats.line() == "reviewed 3 items (0 deliberately wrong)"
    decided = store.review.list_review_items("credit", statuses=["decided"])
    assert len(decided) == 3
    by_id = {p["id"]: p for p in preds}
    for row in decided:
        assert row["final_label"] == by_id[row["id"]]["prediction"]
    line = await status("http://rampup", "credit", client=client)
    assert "credit [partial]" in line
