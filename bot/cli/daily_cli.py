"""``spreadwatch run-daily [--as-of DATE]``: the daily job once (for cron or a one-shot container).

It runs the same daily cycle as the bot's scheduler (:func:`jobs.alerting.cycle.run_cycle`), then drains the outbox
with the bot token from the environment. Without a token nothing is sent: the queued messages are printed under a
clear "NOT SENT" banner and left ``pending``, so a later run (or the bot) with a token still delivers them exactly
once.

Exit codes (``bot.cli.cli_common.ExitCode``): 0 the day was evaluated (or already was) and nothing is left
to send, 1 the data is not there or the fetch failed, 2 an ``--as-of`` in the future or before the stored
history, 3 the data is fine but messages are still pending.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.cli_common import ExitCode, add_common_options, date_arg, print_message, settings_from_args
from bot.telegram.oneshot import TelegramUnreachable, TokenRefused, send_outbox, sync_broadcast_chats
from jobs.alerting.apprise_delivery import notify_sender_for
from jobs.alerting.cycle import run_cycle
from jobs.alerting.destinations import is_notify_chat
from jobs.alerting.services import Services
from jobs.config.settings import Settings
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
    sync_broadcast_chats(services)
    cycle = run_cycle(services, as_of=args.as_of)
    if cycle.daily.outcome == "before_history":
        print(f"{cycle.daily.message}: give --as-of within it", file=sys.stderr)
        return ExitCode.CONFIG
    if cycle.calendar is not None:
        print(f"calendar: {'ok' if cycle.calendar.ok else 'refresh FAILED'} - {cycle.calendar.message}")
    result = cycle.daily
    print(
        f"run-daily {result.target}: {result.outcome} - {result.message}; "
        f"{result.transitions} transition(s), {result.queued} message(s) queued"
    )
    if cycle.regimes is not None:
        states = ", ".join(f"{r.scenario.value}={r.state.value}" for r in cycle.regimes.report.all)
        print(f"regimes {cycle.regimes.report.as_of}: {states}; {cycle.regimes.queued} message(s) queued")
    if cycle.regimes_error is not None:
        print(f"{cycle.regimes_error} (the admins were told)", file=sys.stderr)
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
    try:
        stats = send_outbox(services, token, args.wait)
    except TokenRefused:
        # the messages stay pending for a run with a good token; the token itself is never echoed
        print(
            f"config error: telegram.token_env: Telegram refused the token in ${settings.telegram.token_env}; "
            "messages left pending",
            file=sys.stderr,
        )
        return ExitCode.CONFIG
    except TelegramUnreachable as exc:
        # the messages stay pending: the next run (or the bot) delivers them
        print(f"delivery failed, messages left pending: {exc}", file=sys.stderr)
        return exit_code(outcome, outbox.counts("telegram")["pending"])
    print(
        f"delivery: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed, {stats.dead} to inactive "
        f"chats, {stats.left_pending} still pending"
    )
    return exit_code(outcome, stats.left_pending)
