"""Broadcast benchmark: one alert to N subscribers through the outbox sender, python-telegram-bot and a
fake Bot API that enforces Telegram's ~30 messages/s (429 with retry_after beyond it).

    python bench/bench_broadcast.py [--subscribers 5000] [--limit 30] [--store sqlite|postgresql] [--senders 1]

Prints the sustained rate (first to last accepted message), 429s seen, and lost / duplicated
messages (compared per chat with what the fake server accepted). Target: >= 28 msg/s, 0 lost,
0 duplicated. 5,000 messages at 30/s take about three minutes.

``--store postgresql`` runs it on a throwaway PostgreSQL server (tests/support/pgcluster.py); ``--senders 2``
drains with two senders, each with its own store connections and bot, each at half the rate
(``telegram.rate``: two instances sharing one bot), as two instances would. Then the target is the
same, and the busiest second must stay within the limit: together no faster than Telegram allows.

The fake server runs in its own process, as Telegram would: in the sender's process its threads
would compete with the event loop for the GIL, and a stalled server thread stamps a queue of requests
with one arrival time, a burst the real service never produced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from bot.telegram.client import make_bot  # noqa: E402
from bot.telegram.delivery import OutboxSender  # noqa: E402
from jobs.store.chats import ChatRepo  # noqa: E402
from jobs.store.datastore import Store  # noqa: E402
from jobs.store.outbox import Outbox  # noqa: E402

FIRST_CHAT = 10_000_000


async def broadcast(stores: list[Store], base_url: str) -> Any:
    """One sender per store (the production bot: the same factory, rate limiter and defaults as
    `spreadwatch run`), the bot's rate split between them; returns how many flood waits they had together."""
    rate = 29.5 / len(stores)

    async def one(store: Store, i: int) -> Any:
        async with make_bot("123456:bench-token", base_url) as bot:
            sender = OutboxSender(bot, Outbox(store), ChatRepo(store), rate=rate, worker_id=f"sender-{i}")
            return await sender.drain(wait_up_to_s=30)

    results = await asyncio.gather(*(one(s, i) for i, s in enumerate(stores)))
    return sum(len(r.flood_waits) for r in results)


@contextlib.contextmanager
def store_target(kind: str) -> Iterator[str]:
    """Where the benchmark's store lives: a temporary SQLite file, or a database on a throwaway server."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield str(Path(tmp) / "bench.db")
        return
    from support.pgcluster import ThrowawayCluster

    with ThrowawayCluster() as cluster:
        cluster.create_database("bench")
        os.environ["PGPASSWORD"] = cluster.password
        yield cluster.url("bench")


SERVER = """
import json, sys
from support.fakebot import FakeBotAPI
with FakeBotAPI() as fake:
    fake.rate_limit = float(sys.argv[1])
    print(fake.base_url, flush=True)
    sys.stdin.readline()
    calls = fake.calls(method="sendMessage")
    print(json.dumps([[c.chat_id, c.time, c.ok] for c in calls]), flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=30.0, help="the fake server's messages/s before 429")
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--senders", type=int, default=1, help="senders draining at once (instances)")
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(args.limit)],
        cwd=REPO / "tests",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        base_url = server.stdout.readline().strip()
        with store_target(args.store) as target:
            store = Store(target)
            outbox = Outbox(store)
            chats = list(range(FIRST_CHAT, FIRST_CHAT + args.subscribers))
            text = "🔔 <b>Differentiation alert · 2025-02-14</b>\nSpread <b>54.0%</b>, <b>P93</b> of its history"
            with store.transaction() as conn:
                for chat_id in chats:
                    outbox.enqueue(
                        conn,
                        rule_id="spread",
                        tier=1,
                        kind="fire",
                        day=date(2025, 2, 14),
                        chat_id=chat_id,
                        parts=[text],
                    )
            started = time.monotonic()
            stores = [store] + [Store(target) for _ in range(args.senders - 1)]
            flood_waits = asyncio.run(broadcast(stores, base_url))
            wall = time.monotonic() - started
            counts = outbox.counts()
            for s in stores:
                s.close_all()
        server.stdin.write("dump\n")
        server.stdin.flush()
        calls = json.loads(server.stdout.readline())
    finally:
        server.stdin.close()
        server.wait(timeout=10)

    accepted = [(chat_id, t) for chat_id, t, ok in calls if ok]
    per_chat = Counter(chat_id for chat_id, _ in accepted)
    lost = sum(1 for c in chats if per_chat[c] == 0)
    duplicated = sum(n - 1 for n in per_chat.values() if n > 1)
    refused = sum(1 for _, _, ok in calls if not ok)
    times = sorted(t for _, t in accepted)
    sustained = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    # the busiest one-second window the server saw
    peak, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        peak = max(peak, i - j + 1)

    print(f"store                 {args.store}, {args.senders} sender(s)")
    print(f"subscribers           {args.subscribers}")
    print(f"server limit          {args.limit:g} msg/s (429 beyond)")
    print(f"accepted              {len(accepted)} in {wall:.1f} s")
    print(f"sustained rate        {sustained:.2f} msg/s (target >= 28)")
    print(f"peak 1 s window       {peak} messages")
    print(f"429 answers           {refused} (flood waits {flood_waits})")
    print(f"lost                  {lost}")
    print(f"duplicated            {duplicated}")
    print(f"outbox                {counts}")
    ok = sustained >= 28 and lost == 0 and duplicated == 0 and peak <= args.limit
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
