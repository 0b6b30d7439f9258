"""``spreadwatch run-daily [--as-of DATE]``: the daily job once (for cron or a one-shot container).

It runs the same daily cycle as the bot's scheduler (:func:`jobs.alerting.cycle.run_cycle`), then drains the outbox
with the bot token from the environment. Without a token nothing is sent: the queued messages are printed under a
clear "NOT SENT" banner and left ``pending``, so a later run (or the bot) with a token still delivers them exactly
once.

Exit codes (``bot.cli.cli_common.ExitCode``): 0 the day was evaluated (or already was) and every queued message
was accepted, 1 the data is not there or the fetch failed, 2 an ``--as-of`` in the future or before the stored
history, 3 the data is fine but messages are still unsent:
pending, or ``sending`` under another sender's lease that has not run out (a live instance sending them, or a
sender that died holding them: the next run sends them once the lease has run out; ``--wait`` longer than the
remaining lease waits it out and sends them now).

SIGTERM during delivery stops it (nothing more is claimed, the request in flight is answered and marked)
and the command exits 3 within seconds; the rest goes out with the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.cli_common import ExitCode, add_common_options, date_arg, print_message, settings_from_args
from bot.ops.signals import stop_on_sigterm
from jobs.alerting.apprise_delivery import NotifyStats, notify_sender_for
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


def exit_code(outcome: str, unsent: int) -> ExitCode:
    """A data problem outranks unsent messages: cron's mail must say the refresh failed."""
    if outcome not in DATA_OK:
        return ExitCode.STALE
    return ExitCode.PENDING if unsent else ExitCode.OK


def in_flight_note(settings: Settings, count: int, until: float | None) -> str:
    """ ", 8 in flight under another sender's lease, due again at 16:34" (empty when there are none)."""
    if not count:
        return ""
    when = ""
    if until is not None:
        when = f", due again at {datetime.fromtimestamp(until, ZoneInfo(settings.schedule.timezone)):%H:%M}"
    return f", {count} in flight under another sender's lease{when}"


def cmd_run_daily(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    services = Services.build(settings)
    # python-telegram-bot loads for run-daily itself, not for every command the parser knows
    from bot.telegram import oneshot

    oneshot.sync_broadcast_chats(services)
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
    code, stopped = deliver_telegram(args, settings, services, result.outcome)
    # the other destinations after Telegram's rows, with or without a bot token
    if settings.notify.destinations and not stopped:
        sender = notify_sender_for(services)

        async def drain() -> NotifyStats:
            with stop_on_sigterm(sender.stop):
                return await sender.drain(wait_up_to_s=args.wait)

        stats = asyncio.run(drain())
        paused = f", paused: {', '.join(stats.paused)}" if stats.paused else ""
        print(
            f"destinations: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed, "
            f"{stats.left_pending} still pending"
            f"{in_flight_note(settings, stats.in_flight, stats.in_flight_until)}{paused}"
        )
        if stats.stopped:
            print("stopped by SIGTERM: the rest goes out with the next run", file=sys.stderr)
        if code == ExitCode.OK:
            code = exit_code(result.outcome, stats.left_pending + stats.in_flight)
    elif settings.notify.destinations:
        unsent = Outbox(services.store).counts("notify")
        if code == ExitCode.OK:
            code = exit_code(result.outcome, unsent["pending"] + unsent["sending"])
    return code


def deliver_telegram(
    args: argparse.Namespace, settings: Settings, services: Services, outcome: str
) -> tuple[ExitCode, bool]:
    """Telegram's rows, and whether SIGTERM stopped the delivery."""
    token = settings.bot_token()
    outbox = Outbox(services.store)
    if token is None:
        pending = [r for r in outbox.rows(status="pending") if not is_notify_chat(r.chat_id)]
        sending = outbox.counts("telegram")["sending"]
        held = f" ({sending} more held by another sender)" if sending else ""
        print(
            f"=== NOT SENT: no bot token in ${settings.telegram.token_env}; "
            f"{len(pending)} message(s) left pending for a run with a token{held} ==="
        )
        for row in pending:
            print(f"--- NOT SENT to chat {row.chat_id} ({row.rule_id} {row.kind} tier {row.tier} {row.day}) ---")
            print_message(row.text)
        return exit_code(outcome, len(pending) + sending), False
    # python-telegram-bot loads only when there is a token to deliver with
    from bot.telegram import oneshot

    try:
        stats = oneshot.send_outbox(services, token, args.wait)
    except oneshot.TokenRefused:
        # the messages stay pending for a run with a good token; the token itself is never echoed
        print(
            f"config error: telegram.token_env: Telegram refused the token in ${settings.telegram.token_env}; "
            "messages left pending",
            file=sys.stderr,
        )
        return ExitCode.CONFIG, False
    except oneshot.TelegramUnreachable as exc:
        # the messages stay pending: the next run (or the bot) delivers them
        print(f"delivery failed, messages left pending: {exc}", file=sys.stderr)
        unsent = outbox.counts("telegram")
        return exit_code(outcome, unsent["pending"] + unsent["sending"]), False
    print(
        f"delivery: {stats.sent} sent, {stats.retried} to retry, {stats.failed} failed, {stats.dead} to inactive "
        f"chats, {stats.left_pending} still pending{in_flight_note(settings, stats.in_flight, stats.in_flight_until)}"
    )
    if stats.stopped:
        print("stopped by SIGTERM: the rest goes out with the next run", file=sys.stderr)
        return exit_code(outcome, stats.left_pending + stats.in_flight), True
    return exit_code(outcome, stats.left_pending + stats.in_flight), False
