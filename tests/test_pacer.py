"""The sender's pacing on a virtual clock: the configured rate on average, and no burst in any second."""

from __future__ import annotations

import asyncio

import pytest

from bot.telegram.delivery import Pacer


def _permits(rate: float, n: int) -> list[float]:
    now = [0.0]

    async def sleep(s: float) -> None:
        now[0] += s

    async def run() -> list[float]:
        pacer = Pacer(rate, clock=lambda: now[0], sleep=sleep)
        times = []
        for _ in range(n):
            await pacer.wait()
            times.append(now[0])
            now[0] += 0.002  # the send itself
        return times

    return asyncio.run(run())


def _busiest_second(times: list[float]) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


@pytest.mark.parametrize(("rate", "peak"), [(29.5, 30), (14.75, 15), (1.0, 1)])
def test_the_average_is_the_rate_and_no_second_holds_more_than_its_share(rate: float, peak: int) -> None:
    times = _permits(rate, 600)
    average = (len(times) - 1) / (times[-1] - times[0])
    assert rate * 0.97 <= average <= rate
    assert _busiest_second(times) <= peak


def test_two_instances_at_half_the_rate_together_stay_within_telegrams_limit() -> None:
    """Two senders at 14.75/s each, started together: 29 messages a second on average, never 31."""
    merged = sorted(_permits(14.75, 600) + _permits(14.75, 600))
    assert _busiest_second(merged) <= 30
    assert (len(merged) - 1) / (merged[-1] - merged[0]) >= 28.5
