from __future__ import annotations

import asyncio

import pytest

from rampup.registry.predictor import FeatureBatch, PredictionBatch
from rampup.serving.batching import MicroBatcher


class Doubler:
    """A model function recording the size of every call."""

    def __init__(self, fail_on: float | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on

    async def __call__(self, batch: FeatureBatch) -> PredictionBatch:
        self.calls.append(batch.n)
        xs = batch.columns["x"]
        if self.fail_on is not None and self.fail_on in xs:
            raise ValueError("bad input")
        return PredictionBatch([x * 2 for x in xs])


def one(x: float) -> FeatureBatch:
    return FeatureBatch({"x": [x]}, 1)


async def test_lone_request_is_not_delayed() -> None:
    model = Doubler()
    b = MicroBatcher(model, max_wait=60.0)  # a long wait that must not be used
    b.expect()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    out = await b.submit(one(2))
    assert out.predictions == [4]
    assert loop.time() - t0 < 60.0  # the wait was not used (however loaded the machine)


async def test_concurrent_requests_share_a_call() -> None:
    model = Doubler()
    b = MicroBatcher(model, max_batch_size=64, max_wait=0.05)

    async def request(x: float) -> list[object]:
        b.expect()
        await asyncio.sleep(0)
        return (await b.submit(one(x))).predictions

    results = await asyncio.gather(*(request(i) for i in range(16)))
    assert results == [[i * 2] for i in range(16)]
    assert model.calls == [16]


async def test_batch_size_bound_and_request_not_split() -> None:
    model = Doubler()
    b = MicroBatcher(model, max_batch_size=4, max_wait=0.05)

    async def request(n: int) -> list[object]:
        b.expect()
        return (await b.submit(FeatureBatch({"x": list(range(n))}, n))).predictions

    results = await asyncio.gather(request(3), request(3), request(1))
    assert results == [[0, 2, 4], [0, 2, 4], [0]]
    assert all(c <= 4 for c in model.calls[:-1]) or model.calls == [3, 3, 1] or max(
        model.calls) <= 4
    assert sum(model.calls) == 7


async def test_waits_for_expected_requests_then_gives_up() -> None:
    model = Doubler()
    b = MicroBatcher(model, max_wait=0.02)
    b.expect()
    b.expect()  # this one never arrives (e.g. its validation is slow)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await b.submit(one(1))
    assert loop.time() - t0 > 0.015  # it waited for the other one, then gave up alone
    assert model.calls == [1]


async def test_cancel_releases_the_wait() -> None:
    model = Doubler()
    b = MicroBatcher(model, max_wait=5.0)
    b.expect()
    b.expect()
    task = asyncio.create_task(b.submit(one(1)))
    await asyncio.sleep(0.01)
    b.cancel()  # the second request failed validation
    assert (await asyncio.wait_for(task, 1.0)).predictions == [2]


async def test_one_bad_request_does_not_fail_its_neighbours() -> None:
    model = Doubler(fail_on=13)
    b = MicroBatcher(model, max_wait=0.05)

    async def request(x: float) -> object:
        b.expect()
        try:
            return (await b.submit(one(x))).predictions
        except ValueError as exc:
            return str(exc)

    results = await asyncio.gather(request(1), request(13), request(2))
    assert results == [[2], "bad input", [4]]


async def test_error_propagates_for_single() -> None:
    b = MicroBatcher(Doubler(fail_on=1))
    b.expect()
    with pytest.raises(ValueError, match="bad input"):
        await b.submit(one(1))


class Slow(Doubler):
    """Takes ``delay`` seconds per call (off the event loop, like a model on a thread)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.running = 0
        self.most = 0

    async def __call__(self, batch: FeatureBatch) -> PredictionBatch:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(self.delay)
        self.running -= 1
        return await super().__call__(batch)


async def test_requests_arriving_during_a_call_go_together_in_the_next() -> None:
    model = Slow(0.05)
    b = MicroBatcher(model, max_wait=0.0)  # max_in_flight=1: one call at a time

    async def request(x: float, after: float) -> list[float]:
        await asyncio.sleep(after)
        b.expect()
        return (await b.submit(one(x))).predictions

    outs = await asyncio.gather(request(1, 0), *(request(x, 0.01) for x in range(2, 12)))
    assert outs == [[2]] + [[2 * x] for x in range(2, 12)]
    assert model.calls == [1, 10]  # the ten that came during the first call share one
    assert model.most == 1


async def test_max_in_flight_allows_parallel_calls() -> None:
    model = Slow(0.05)
    b = MicroBatcher(model, max_wait=0.0, max_in_flight=4)

    async def request(x: float, after: float) -> list[float]:
        await asyncio.sleep(after)
        b.expect()
        return (await b.submit(one(x))).predictions

    await asyncio.gather(*(request(x, 0.005 * x) for x in range(4)))
    assert model.most > 1
    assert len(model.calls) > 1
