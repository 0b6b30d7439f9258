"""The real 2024-06 → 2025-03 history through the whole path, as the scheduler runs it: every trading
evening the daily job runs in a worker thread (a source reveals the CSV up to that day: store, rules,
audit log, outbox), then the outbox is drained through python-telegram-bot to the fake Bot API.

Like the live service, it meets gaps: the service is down for most of the summer (one catch-up run
evaluates every missed day in order), the data is late every other evening (that run waits, the next
one evaluates two days), and once a day's data never arrives by the cut-off (admins are told once).
The transitions must be exactly those the rules give over the spread series computed directly from
the CSV, and every subscriber must get each of its messages exactly once."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from support.alerting_support import (
    SW,
    TOKEN,
    RevealingSource,
    csv_batch,
    evening,
    make_services,
    make_settings,
    subscribe,
)
from support.fakebot import FakeBotAPI
from telegram.ext import ExtBot

from bot.telegram.client import make_bot
from bot.telegram.delivery import OutboxSender
from jobs.alerting.alert_log import SPREAD_RULE, transitions
from jobs.alerting.daily import params_from_settings, run_daily
from jobs.engine.rules import Observation, replay
from jobs.engine.spread import compute_history, wide_closes
from jobs.model.figures import NameBook
from jobs.store.outbox import Outbox

pytestmark = pytest.mark.skipif(not SW.exists(), reason="shared data not present")

START, END = date(2024, 6, 3), date(2025, 3, 31)
MUTED_UNTIL = date(2024, 12, 31)
DOWN_FROM, DOWN_UNTIL = date(2024, 6, 4), date(2024, 8, 30)  # one catch-up run on DOWN_UNTIL
NEVER_ARRIVES = date(2024, 10, 16)  # a late day whose data is still missing at the cut-off
ADMIN = 9001
# chat id -> (language, personal threshold, muted until)
CHATS: dict[int, tuple[str, float | None, date | None]] = {
    101: ("zh", None, None),
    102: ("en", 85.0, None),
    103: ("zh", None, MUTED_UNTIL),
    -1001: ("en", 95.0, None),  # a group
}
MARKERS = {
    "en": {"fire": "Differentiation alert ·", "escalate": "alert raised", "remind": "still extreme",
           "resolve": "alert resolved"},
    "zh": {"fire": "行业分化提醒 ·", "escalate": "提醒升级", "remind": "仍处极端", "resolve": "提醒解除"},
}  # fmt: skip


def direct_observations() -> list[Observation]:
    """The spread series computed once over the whole CSV, independently of the store and the job."""
    batch = csv_batch(SW)
    frame = compute_history(wide_closes(batch.rows), NameBook.constant(batch.declared), "6M", 5, date(2010, 1, 1)).frame
    window = frame.loc[str(START) : str(END)]
    return [
        Observation(ts.date(), float(r.spread), float(r.percentile), int(r.history_rank) == 1)
        for ts, r in zip(window.index, window.itertuples(), strict=True)
    ]


async def test_replay_of_the_real_history(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = RevealingSource(SW)
    with FakeBotAPI() as fake:
        settings = make_settings(tmp_path / "replay.db", fake.base_url)
        services = make_services(settings, source)
        for chat_id, (lang, threshold, muted) in CHATS.items():
            subscribe(services, chat_id, lang, threshold=threshold, muted_until=muted)

        days = services.engine.calendar.trading_days_between(START, END)
        bot: ExtBot[Any] = make_bot(TOKEN, fake.base_url)
        async with bot:
            sender = OutboxSender(bot, Outbox(services.store), services.chats)
            evaluated: list[date] = []
            for i, day in enumerate(days):
                if DOWN_FROM <= day < DOWN_UNTIL:
                    continue  # the service is down: nobody runs the job
                late = day >= DOWN_UNTIL and i % 2 == 1 and day != END
                source.revealed = days[i - 1] if late else day
                result = await asyncio.to_thread(run_daily, services, None, evening(day))
                if late:
                    assert result.outcome == "waiting" and result.retry, result
                    if day == NEVER_ARRIVES:
                        missing = await asyncio.to_thread(run_daily, services, None, evening(day, 21, 0))
                        again = await asyncio.to_thread(run_daily, services, None, evening(day, 21, 30))
                        assert (missing.outcome, missing.queued, again.queued) == ("missing", 1, 0)
                else:
                    assert result.outcome == "evaluated" and result.evaluated[-1] == day, result
                evaluated += result.evaluated
                stats = await sender.drain(wait_up_to_s=5.0)
                assert stats.failed == stats.dead == stats.left_pending == 0
                if day.day % 7 == 0 and not late:
                    # a second run the same evening (a retry, a restart) changes nothing and sends nothing
                    again = await asyncio.to_thread(run_daily, services, None, evening(day, 20))
                    assert again.outcome == "up_to_date" and again.transitions == again.queued == 0

        assert evaluated == days, "every trading day evaluated once, in order"
        admin_notes = fake.sent(chat_id=ADMIN)
        assert len(admin_notes) == 1 and str(NEVER_ARRIVES) in admin_notes[0].params["text"]

        observations = direct_observations()
        assert [o.day for o in observations] == days
        base = params_from_settings(settings.alerts)
        total_sent = 0
        kinds_seen: set[str] = set()
        for chat_id, (lang, threshold, muted) in CHATS.items():
            _, want = replay(base.with_threshold(threshold), observations)
            got = list(reversed(transitions(services.store, SPREAD_RULE, chat_id)))
            assert [(e.day, e.kind, e.tier) for e in got] == [(t.day, t.kind.value, t.tier) for t in want], chat_id
            kinds_seen |= {t.kind.value for t in want}

            expected = [t for t in want if muted is None or t.day > muted]
            sent = fake.sent(chat_id=chat_id)
            assert len(sent) == len(expected), chat_id
            for call, t in zip(sent, expected, strict=True):
                text = call.params["text"]
                assert MARKERS[lang][t.kind.value] in text and str(t.day) in text
            # exactly once: no two deliveries of the same (kind, tier, day)
            assert len({(t.kind, t.tier, t.day) for t in expected}) == len(expected)
            total_sent += len(sent)
            if muted is not None:
                assert any(t.day <= muted for t in want), "the mute must have silenced something"
                assert all(not e.queued for e in got if e.day <= muted)

        assert {"fire", "escalate", "remind", "resolve"} <= kinds_seen
        counts = Outbox(services.store).counts()
        assert counts["sent"] == total_sent + 1 > 1  # + the admin notice
        assert counts["pending"] == counts["sending"] == counts["failed"] == counts["dead"] == 0
        # every sendMessage the fake saw was accepted: no retries were needed, none was repeated
        assert len(fake.calls(method="sendMessage")) == total_sent + 1  # + the admin's notice
