"""A sender process for the crash tests: ``python outbox_worker.py DB BASE_URL LEASE_S [RATE]``.

It drains the outbox of DB through the fake Bot API at BASE_URL exactly as the bot does, with a short
lease so that a restarted worker takes over a killed one's claims quickly.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from telegram.ext import ExtBot

from bot.telegram.client import make_bot
from bot.telegram.delivery import OutboxSender
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox


async def main(db: str, base_url: str, lease_s: float, rate: float = 25) -> None:
    store = Store(db)
    bot: ExtBot[Any] = make_bot("123456:alerts-test-token", base_url)
    async with bot:
        sender = OutboxSender(
            bot, Outbox(store), ChatRepo(store), rate=rate, concurrency=4, lease_s=lease_s, backoff_base_s=0.2
        )
        stats = await sender.drain(wait_up_to_s=lease_s + 5)
    print(f"sent {stats.sent} left {stats.left_pending}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], *map(float, sys.argv[3:5])))
