"""The per-chat token bucket (``bot.telegram.chat_limits``) and the update processor that applies it
(``bot.telegram.update_processor``): what counts, told once, silence until a token is back, and that
one chat's waiting updates and heavy commands take nothing the other chats need.

The processor tests drive ``process_update`` directly with coroutines that wait on events: they check
which updates have run at each step, never how long anything took.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from support.fakebot import callback_query_update, command_update, edited_message_update, text_update
from telegram import Update

from bot.telegram.chat_limits import SWEEP_EVERY, Admission, ChatLimits
from bot.telegram.update_processor import PerChatUpdateProcessor
from jobs.config.settings import parse_settings

_ids = itertools.count(1)
ADMIN = 4242


def update(data: dict[str, Any]) -> Update:
    u = Update.de_json({"update_id": next(_ids), **data}, None)
    assert u is not None
    return u


def command(text: str, chat_id: int = 1001, **kw: Any) -> Update:
    return update(command_update(text, chat_id=chat_id, **kw))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limits(per_minute: float = 6, burst: int = 3, clock: Callable[[], float] | None = None) -> ChatLimits:
    chat_limits = ChatLimits(per_minute, burst, admins=[ADMIN], clock=clock or Clock())
    chat_limits.commands = frozenset({"spread", "top5", "slow"})
    chat_limits.heavy = frozenset({"slow"})
    return chat_limits


def admissions(chat_limits: ChatLimits, n: int, chat_id: int = 1001) -> list[Admission]:
    return [chat_limits.admit(command("/spread", chat_id=chat_id)) for _ in range(n)]


A, N, D = Admission.ADMIT, Admission.NOTIFY, Admission.DROP


def test_told_once_when_dry_then_silent_until_a_token_is_back() -> None:
    clock = Clock()
    chat_limits = limits(per_minute=6, burst=3, clock=clock)  # a token every 10 s
    assert admissions(chat_limits, 6) == [A, A, A, N, D, D]
    assert chat_limits.retry_after(1001) == 10
    clock.now += 4
    assert chat_limits.retry_after(1001) == 6
    assert admissions(chat_limits, 1) == [D]
    clock.now += 6  # one token
    # answered again; still dry after it, and not told a second time: the bucket was not full since
    assert admissions(chat_limits, 3) == [A, D, D]
    clock.now += 30  # full again: the next time it runs dry, the chat is told again
    assert admissions(chat_limits, 5) == [A, A, A, N, D]


def test_a_chat_that_keeps_flooding_is_told_once_and_answered_at_the_refill_rate() -> None:
    clock = Clock()
    chat_limits = limits(per_minute=6, burst=3, clock=clock)
    seen = []
    for _ in range(600):  # ten commands a second for a minute
        seen.append(chat_limits.admit(command("/spread")))
        clock.now += 0.1
    assert seen.count(N) == 1
    assert seen.count(A) == 3 + 5  # the burst, then one every 10 s


def test_each_chat_has_its_own_bucket() -> None:
    chat_limits = limits(burst=2)
    assert admissions(chat_limits, 3, chat_id=1) == [A, A, N]
    assert admissions(chat_limits, 3, chat_id=2) == [A, A, N]


def test_the_notice_goes_to_the_update_that_found_the_bucket_dry_once() -> None:
    chat_limits = limits(burst=1)
    first, second, third = (command("/spread") for _ in range(3))
    assert [chat_limits.admit(u) for u in (first, second, third)] == [A, N, D]
    assert not chat_limits.notice_due(first)
    assert chat_limits.notice_due(second)
    assert not chat_limits.notice_due(second)
    assert not chat_limits.notice_due(third)


def test_what_counts() -> None:
    chat_limits = limits(burst=1)
    group = -100
    counted = [
        command("/spread"),  # a command in a private chat
        update(text_update("hello")),  # private text is answered with a hint
        command("/nosuch"),  # so is an unknown command
        command("/top5", chat_id=group),  # our command in a group
        update(callback_query_update({"message_id": 5, "chat": {"id": 1001, "type": "private"}, "date": 0}, "x")),
    ]
    not_counted = [
        update(text_update("hello all", chat_id=group)),  # group chatter
        command("/other", chat_id=group),  # another bot's command, unaddressed
        command("/spread@other_bot", chat_id=group),  # addressed to another bot
        update(edited_message_update("/spread")),  # edited: never answered
        command("/spread", chat_id=1001, user_id=ADMIN),  # an admin's
        command("/spread", chat_id=group, user_id=ADMIN),  # an admin's, in a group
    ]
    assert [chat_limits.counts(u) for u in counted] == [True] * len(counted)
    assert [chat_limits.counts(u) for u in not_counted] == [False] * len(not_counted)
    assert [chat_limits.admit(u) for u in not_counted * 3] == [A] * len(not_counted) * 3


def test_heavy_commands_are_named_by_their_handlers() -> None:
    chat_limits = limits()
    assert chat_limits.is_heavy(command("/slow 3y"))
    assert not chat_limits.is_heavy(command("/spread"))
    assert not chat_limits.is_heavy(update(text_update("slow")))


def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    chat_limits = limits(burst=2, clock=clock)
    for chat_id in range(1, 101):
        chat_limits.admit(command("/spread", chat_id=chat_id))
    assert chat_limits.tracked_chats() == 100
    clock.now += 60  # every bucket is full again: the same as no bucket
    for _ in range(SWEEP_EVERY):
        chat_limits.admit(command("/spread", chat_id=7))
    assert chat_limits.tracked_chats() == 1


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 10), (20, 0), (601, 10), (20, 101)])
def test_limits_are_validated(per_minute: float, burst: int) -> None:
    with pytest.raises(Exception, match="telegram"):
        parse_settings({"telegram": {"commands_per_minute": per_minute, "command_burst": burst}}, "test")


# -- the processor -----------------------------------------------------------------------------


async def until(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition()`` holds (everything here runs on this loop)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


class Work:
    """Coroutines to process that record when they start and finish; ``release(tag)`` ends one."""

    def __init__(self) -> None:
        self.running: set[str] = set()
        self.done: list[str] = []
        self.peak = 0  # most waiting coroutines running at once
        self._gates: dict[str, asyncio.Event] = {}

    async def run(self, tag: str, wait: bool) -> None:
        self.running.add(tag)
        if wait:
            self.peak = max(self.peak, len(self.running))  # of those that wait (the heavy ones here)
            await self._gates.setdefault(tag, asyncio.Event()).wait()
        self.running.discard(tag)
        self.done.append(tag)

    def release(self, tag: str) -> None:
        self._gates.setdefault(tag, asyncio.Event()).set()


def submit(
    processor: PerChatUpdateProcessor, u: Update, work: Work, tag: str, wait: bool = False
) -> asyncio.Task[None]:
    return asyncio.create_task(processor.process_update(u, work.run(tag, wait)))


async def test_a_chats_waiting_updates_hold_no_slot() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=4)
    work = Work()
    flood = [submit(processor, command("/spread", chat_id=1), work, "flood-0", wait=True)]
    flood += [submit(processor, command("/spread", chat_id=1), work, f"flood-{i}") for i in range(1, 50)]
    other = submit(processor, command("/spread", chat_id=2), work, "other")
    await until(other.done)
    # the other chat was answered while the flooding chat's first update still runs and 49 wait
    assert work.running == {"flood-0"} and processor.waiting() == {1: 50}
    work.release("flood-0")
    await asyncio.gather(*flood)
    assert work.done[1:] == ["flood-0", *(f"flood-{i}" for i in range(1, 50))]  # in order
    assert processor.waiting() == {}


async def test_refused_updates_never_queue_and_are_reported_processed() -> None:
    chat_limits = limits(burst=2)
    processor = PerChatUpdateProcessor(limits=chat_limits)
    processed: list[Any] = []
    processor.on_processed = processed.append
    work = Work()
    updates = [command("/spread") for _ in range(5)]
    tasks = [submit(processor, u, work, f"c{i}") for i, u in enumerate(updates)]
    await asyncio.gather(*tasks)
    # two answered, the third runs to be answered with the notice, the last two never run
    assert work.done == ["c0", "c1", "c2"]
    assert chat_limits.notice_due(updates[2])
    assert sorted(u.update_id for u in processed) == sorted(u.update_id for u in updates)


async def test_heavy_commands_one_per_chat_and_at_most_n_at_once_in_arrival_order() -> None:
    processor = PerChatUpdateProcessor(limits=limits(burst=10), heavy_at_once=2)
    work = Work()
    tasks = [
        submit(processor, command("/slow", chat_id=1), work, "a1", wait=True),
        submit(processor, command("/slow", chat_id=1), work, "a2", wait=True),
        submit(processor, command("/spread", chat_id=1), work, "a3"),
        submit(processor, command("/slow", chat_id=2), work, "b1", wait=True),
        submit(processor, command("/slow", chat_id=3), work, "c1", wait=True),
        submit(processor, command("/spread", chat_id=4), work, "d1"),
    ]
    await until(lambda: work.running == {"a1", "b1"} and "d1" in work.done)
    assert "a3" not in work.done  # a chat's commands keep their order: /spread waits for its /slow
    work.release("a1")
    # a1's place goes to c1, which asked before a2: a chat cannot keep a place by queueing behind itself
    await until(lambda: work.running == {"b1", "c1"})
    work.release("b1")
    await until(lambda: work.running == {"c1", "a2"})
    work.release("c1")
    work.release("a2")
    await asyncio.gather(*tasks)
    assert work.peak == 2
    assert work.done.index("a2") < work.done.index("a3")


async def test_the_notice_for_a_heavy_command_takes_no_heavy_place() -> None:
    processor = PerChatUpdateProcessor(limits=limits(burst=1), heavy_at_once=1)
    work = Work()
    blocker = submit(processor, command("/slow", chat_id=2), work, "b1", wait=True)
    await until(lambda: work.running == {"b1"})
    assert processor.limits is not None
    submit(processor, command("/spread", chat_id=1), work, "a1")  # the chat's one token
    notice = submit(processor, command("/slow", chat_id=1), work, "a2-notice")
    await until(notice.done)  # not held up by b1's heavy place
    work.release("b1")
    await blocker
