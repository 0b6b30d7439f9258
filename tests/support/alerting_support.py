"""Shared parts of the alert, daily-job and delivery tests: a source that reveals the real CSV only up
to a chosen day (a fake at the boundary), services over a temporary store, a sender bound to the fake
Bot API."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from telegram.ext import ExtBot

from bot.telegram.client import make_bot
from bot.telegram.delivery import DrainStats, OutboxSender
from jobs.alerting.services import Services
from jobs.config.settings import Settings, parse_settings
from jobs.engine.pipeline import Engine
from jobs.market.sources.base import FetchError, PriceBatch
from jobs.market.sources.csv_source import CsvSource
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SW = SHARED / "sw_l1_daily.csv"
TZ = ZoneInfo("Asia/Shanghai")
TOKEN = "123456:alerts-test-token"


@lru_cache(maxsize=2)
def csv_batch(path: Path) -> PriceBatch:
    return CsvSource(path).fetch(None, date(2100, 1, 1))


@lru_cache(maxsize=2)
def csv_days(path: Path) -> np.ndarray:  # type: ignore[type-arg]
    """The ``date`` column of :func:`csv_batch` as datetime64[D]: comparing it with a day is a vectorised
    comparison, not one of Python ``date`` objects per row (a replay filters the whole CSV every evening)."""
    return np.array(csv_batch(path).rows["date"].tolist(), dtype="datetime64[D]")


class RevealingSource:
    """The real CSV, but only rows up to ``revealed`` exist yet (None: all of them).

    ``failing`` makes the next fetches raise, as a broken upstream would.
    """

    synthetic = False

    def __init__(self, path: Path, revealed: date | None = None) -> None:
        self.batch = csv_batch(path)
        self.days = csv_days(path)
        self.name = f"csv:{path}"
        self.label = f"CSV {path.name}"
        self.revealed = revealed
        self.failing: str | None = None

    def fetch(self, since: date | None, until: date) -> PriceBatch:
        if self.failing:
            raise FetchError(self.failing)
        rows, days = self.batch.rows, self.days
        mask = days <= np.datetime64(until)
        if self.revealed is not None:
            mask &= days <= np.datetime64(self.revealed)
        if since is not None:
            mask &= days > np.datetime64(since)
        return PriceBatch(rows=rows.loc[mask].reset_index(drop=True), declared=self.batch.declared, complete=False)


def make_settings(db: Path, base_url: str | None = None, **sections: Any) -> Settings:
    raw: dict[str, Any] = {
        "lang": "zh",
        "data": {"source": f"csv:{SW}"},
        "storage": {"path": str(db)},
        "telegram": {"admins": [9001], **({"base_url": base_url} if base_url else {})},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value}
    return parse_settings(raw, "test")


def make_services(settings: Settings, source: Any) -> Services:
    store = Store(settings.storage.path)
    engine = Engine(settings, store, source=source)
    return Services(settings=settings, store=store, engine=engine, chats=ChatRepo(store))


def subscribe(services: Services, chat_id: int, lang: str = "zh", **fields: Any) -> None:
    services.chats.ensure(chat_id, "private" if chat_id > 0 else "group")
    services.chats.update(chat_id, subscribed=True, lang=lang, **fields)


def evening(day: date, hour: int = 17, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


async def drain_async(services: Any, base_url: str, wait: float = 10.0, **sender_kw: Any) -> DrainStats:
    bot: ExtBot[Any] = make_bot(TOKEN, base_url)
    async with bot:
        sender = OutboxSender(bot, Outbox(services.store), services.chats, **sender_kw)
        return await sender.drain(wait_up_to_s=wait)


def drain(services: Any, base_url: str, wait: float = 10.0, **sender_kw: Any) -> DrainStats:
    """Drain the outbox of ``services.store`` (chats in ``services.chats``) through a real
    python-telegram-bot ExtBot talking to ``base_url``."""
    return asyncio.run(drain_async(services, base_url, wait, **sender_kw))
