"""``spreadwatch run-daily [--as-of DATE]``: the daily job once (for cron or a one-shot container).

It runs the same job body as the bot's scheduler, then drains the outbox with the bot token from the
environment. Without a token nothing is sent: the queued messages are printed under a clear
"NOT SENT" banner and left ``pending``, so a later run (or the bot) with a token still delivers them
exactly once.

Exit codes: 0 the day was evaluated (or already was), 1 the data is not there / the fetch failed /
messages are still pending, 2 bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from bot.services import Services
from jobs.daily import last_evaluated_key, run_daily
from jobs.outbox import Outbox
from jobs.regimes.job import run_regimes_if_due
from jobs.settings import Settings

EXIT_OK, EXIT_STALE = 0, 1


def add_run_daily_command(
    sub: Any, common: Callable[[argparse.ArgumentParser], None], date_type: Callable[[str], Any]
) -> None:
    p = sub.add_parser("run-daily", help="run the daily job once: refresh, evaluate alerts, deliver the outbox")
    common(p)
    p.add_argument("--as-of", type=date_type, metavar="DATE", help="evaluate up to this trading day (YYYY-MM-DD)")
    p.add_argument(
        "--wait", type=float, default=60.0, metavar="S", help="wait up to S seconds for retries due soon (default 60)"
    )
    p.set_defaults(func=cmd_run_daily)


def cmd_run_daily(args: argparse.Namespace) -> int:
    from bot.cli import settings_from_args

    settings = settings_from_args(args)
    services = Services.build(settings)
    result = run_daily(services, as_of=args.as_of)
    print(
        f"run-daily {result.target}: {result.outcome} - {result.message}; "
        f"{result.transitions} transition(s), {result.queued} message(s) queued"
    )
    # the regime scenarios follow the day the spread rules just evaluated, as the bot's job does
    regimes = run_regimes_if_due(services, last_evaluated_key(services.engine.source.name))
    if regimes is not None:
        states = ", ".join(f"{r.scenario.value}={r.state.value}" for r in regimes.report.all)
        print(f"regimes {regimes.report.as_of}: {states}; {regimes.queued} message(s) queued")
    token = settings.bot_token()
    outbox = Outbox(services.store)
    if token is None:
        pending = outbox.rows(status="pending")
        print(
            f"=== NOT SENT: no bot token in ${settings.telegram.token_env}; "
            f"{len(pending)} message(s) left pending for a run with a token ==="
        )
        for row in pending:
            print(f"--- NOT SENT to chat {row.chat_id} ({row.rule_id} {row.kind} tier {row.tier} {row.day}) ---")
            print(row.text)
        return EXIT_STALE if pending or result.outcome not in ("evaluated", "up_to_date") else EXIT_OK
    from telegram.error import InvalidToken, NetworkError

    try:
        stats = asyncio.run(send_outbox(settings, services, token, args.wait))
    except (InvalidToken, NetworkError) as exc:
        # the messages stay pending: the next run (or the bot) delivers them
        print(f"delivery failed, messages left pending: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_STALE
    print(
        f"delivery: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed, {stats.dead} to inactive "
        f"chats, {stats.left_pending} still pending"
    )
    ok = result.outcome in ("evaluated", "up_to_date") and stats.left_pending == 0
    return EXIT_OK if ok else EXIT_STALE


async def send_outbox(settings: Settings, services: Services, token: str, wait_up_to_s: float) -> Any:
    from bot.delivery import OutboxSender
    from bot.telegram_client import bot_for

    async with bot_for(settings, token) as bot:
        sender = OutboxSender(bot, Outbox(services.store), services.chats)
        return await sender.drain(wait_up_to_s=wait_up_to_s)
