"""``spreadwatch run-daily [--as-of DATE]``: the daily job once (for cron or a one-shot container).

It runs the same job body as the bot's scheduler, then drains the outbox with the bot token from the
environment. Without a token nothing is sent: the queued messages are printed under a clear
"NOT SENT" banner and left ``pending``, so a later run (or the bot) with a token still delivers them
exactly once.

Exit codes (``bot.cli.cli_common.ExitCode``): 0 the day was evaluated (or already was) and nothing is left
to send, 1 the data is not there or the fetch failed, 3 the data is fine but messages are still pending.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.cli_common import ExitCode, add_common_options, date_arg, print_message, settings_from_args
from jobs.alerting.apprise_delivery import notify_sender_for
from jobs.alerting.broadcast_chats import numeric_ids, sync_broadcast
from jobs.alerting.daily import last_evaluated_key, run_daily
from jobs.alerting.destinations import is_notify_chat, sync_destinations
from jobs.alerting.regime_alerts import run_regimes_if_due
from jobs.alerting.services import Services
from jobs.config.settings import Settings
from jobs.market.calendar_refresh import maintain_calendar
from jobs.store.outbox import Outbox

# "unknown": no data for a presumed day past the known calendar, which may be a holiday: nothing is
# known to be wrong with the data (the admins were asked to refresh the calendar)
DATA_OK = ("evaluated", "up_to_date", "unknown")


def add_run_daily_command(sub: Any) -> None:
    p = sub.add_parser("run-daily", help="run the daily job once: refresh, evaluate alerts, deliver the outbox")
    add_common_options(p)
    p.add_argument("--as-of", type=date_arg, metavar="DATE", help="evaluate up to this trading day (YYYY-MM-DD)")
    p.add_argument(
        "--wait", type=float, default=60.0, metavar="S", help="wait up to S seconds for retries due soon (default 60)"
    )
    p.set_defaults(func=cmd_run_daily)


def exit_code(outcome: str, left_pending: int) -> ExitCode:
    """A data problem outranks pending messages: cron's mail must say the refresh failed."""
    if outcome not in DATA_OK:
        return ExitCode.STALE
    return ExitCode.PENDING if left_pending else ExitCode.OK


def cmd_run_daily(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    services = Services.build(settings)
    # configured destinations are subscribers of this evaluation (removed ones no longer are)
    sync_destinations(services.store, settings.notify)
    sync_broadcast_chats(settings, services)
    calendar = maintain_calendar(services, services.engine.today())
    if calendar is not None:
        print(f"calendar: {'ok' if calendar.ok else 'refresh FAILED'} - {calendar.message}")
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
    code = deliver_telegram(args, settings, services, result.outcome)
    # the other destinations after Telegram's rows, with or without a bot token
    if settings.notify.destinations:
        stats = asyncio.run(notify_sender_for(services).drain(wait_up_to_s=args.wait))
        paused = f", paused: {', '.join(stats.paused)}" if stats.paused else ""
        print(
            f"destinations: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed, "
            f"{stats.left_pending} still pending{paused}"
        )
        if stats.left_pending and code == ExitCode.OK:
            code = exit_code(result.outcome, stats.left_pending)
    return code


def sync_broadcast_chats(settings: Settings, services: Services) -> None:
    """telegram.broadcast's chats subscribed before the evaluation; a @username needs the bot token."""
    entries = settings.telegram.broadcast
    if not entries:
        return
    token = settings.bot_token()
    if token is None:
        ids = numeric_ids(entries)
        sync_broadcast(services.store, ids, complete=len(ids) == len(entries))
        return
    from bot.telegram.broadcast_targets import sync_broadcast_with_bot
    from bot.telegram.client import bot_for

    async def sync() -> None:
        async with bot_for(settings, token) as bot:
            await sync_broadcast_with_bot(bot, services.store, entries)

    asyncio.run(sync())


def deliver_telegram(args: argparse.Namespace, settings: Settings, services: Services, outcome: str) -> ExitCode:
    token = settings.bot_token()
    outbox = Outbox(services.store)
    if token is None:
        pending = [r for r in outbox.rows(status="pending") if not is_notify_chat(r.chat_id)]
        print(
            f"=== NOT SENT: no bot token in ${settings.telegram.token_env}; "
            f"{len(pending)} message(s) left pending for a run with a token ==="
        )
        for row in pending:
            print(f"--- NOT SENT to chat {row.chat_id} ({row.rule_id} {row.kind} tier {row.tier} {row.day}) ---")
            print_message(row.text)
        return exit_code(outcome, len(pending))
    from telegram.error import InvalidToken, NetworkError

    try:
        stats = asyncio.run(send_outbox(settings, services, token, args.wait))
    except InvalidToken:
        # the messages stay pending for a run with a good token; the token itself is never echoed
        print(
            f"config error: telegram.token_env: Telegram refused the token in ${settings.telegram.token_env}; "
            "messages left pending",
            file=sys.stderr,
        )
        return ExitCode.CONFIG
    except NetworkError as exc:
        # the messages stay pending: the next run (or the bot) delivers them
        detail = str(exc).replace(token, "[token]")
        print(f"delivery failed, messages left pending: {type(exc).__name__}: {detail}", file=sys.stderr)
        return exit_code(outcome, outbox.counts("telegram")["pending"])
    print(
        f"delivery: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed, {stats.dead} to inactive "
        f"chats, {stats.left_pending} still pending"
    )
    return exit_code(outcome, stats.left_pending)


async def send_outbox(settings: Settings, services: Services, token: str, wait_up_to_s: float) -> Any:
    from bot.telegram.client import bot_for
    from bot.telegram.delivery import OutboxSender

    async with bot_for(settings, token) as bot:
        sender = OutboxSender(bot, Outbox(services.store), services.chats, rate=settings.telegram.rate)
        return await sender.drain(wait_up_to_s=wait_up_to_s)
