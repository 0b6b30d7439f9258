"""``spreadwatch backfill`` and ``spreadwatch calendar-refresh``: fill the store from the source."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.cli_common import ExitCode, add_common_options, open_engine, settings_from_args
from jobs.market.calendar_refresh import refresh_calendar


def add_backfill_command(sub: Any) -> None:
    p = sub.add_parser("backfill", help="fetch all missing history into the store and compute snapshots")
    add_common_options(p)
    p.set_defaults(func=cmd_backfill)


def add_calendar_refresh_command(sub: Any) -> None:
    p = sub.add_parser("calendar-refresh", help="extend the trading calendar from the live source (Sina via akshare)")
    add_common_options(p)
    p.set_defaults(func=cmd_calendar_refresh)


def cmd_backfill(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    engine = open_engine(settings)
    result = engine.update()
    r = result.refresh
    print(
        f"{r.source}: {'ok' if r.ok else 'FAILED'} - {r.message}; data up to {r.last_date or '(none stored)'}; "
        f"{result.snapshots_written} snapshot(s) written; latest snapshot {result.last_snapshot or '(none)'}"
    )
    return ExitCode.OK if r.ok else ExitCode.STALE


def cmd_calendar_refresh(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    engine = open_engine(settings)
    result = refresh_calendar(engine.store, settings.data, engine.today())
    print(f"calendar: {'ok' if result.ok else 'FAILED'} - {result.message}")
    return ExitCode.OK if result.ok else ExitCode.STALE
