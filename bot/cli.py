"""The ``spreadwatch`` command line.

    spreadwatch report [--as-of DATE] [--source SPEC] [--lang zh|en] [--json]
    spreadwatch backfill [--source SPEC]
    spreadwatch check-config [--config PATH]
    spreadwatch run-daily [--as-of DATE] [--wait S]
    spreadwatch run [--config PATH]
    spreadwatch calendar-refresh [--config PATH] [--db PATH]

Exit codes: 0 ok, 1 the data could not be refreshed (the last good data is still shown, marked
stale), 2 bad configuration or arguments.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date

from jobs.pipeline import Engine
from jobs.report import build_report
from jobs.settings import ConfigError, Settings, load_settings, parse_settings
from jobs.store import Store

log = logging.getLogger("spreadwatch")

EXIT_OK, EXIT_STALE, EXIT_CONFIG = 0, 1, 2
EXIT_USAGE = EXIT_CONFIG  # a request the data cannot answer: like a bad argument


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-02-14, got {text!r}") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="YAML settings (default: ./config.yaml if present)")
    p.add_argument("--source", metavar="SPEC", help="override data.source: sample | akshare | csv:PATH")
    p.add_argument("--db", metavar="PATH", help="override storage.path")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings, _ = load_settings(args.config)
    raw = settings.model_dump()
    if getattr(args, "source", None):
        raw["data"]["source"] = args.source
    if getattr(args, "db", None):
        raw["storage"]["path"] = args.db
    if getattr(args, "lang", None):
        raw["lang"] = args.lang
    return parse_settings(raw, "command line")


def open_engine(settings: Settings) -> Engine:
    return Engine(settings, Store(settings.storage.path))


def cmd_report(args: argparse.Namespace) -> int:
    from jobs.messages import render

    settings = settings_from_args(args)
    engine = open_engine(settings)
    result = engine.update()
    status = engine.status()
    report = build_report(engine.store, status, settings.metric.history_start, args.as_of)
    if report is None and args.as_of is not None and engine.store.last_snapshot_date(status.source) is not None:
        first = engine.store.spread_series(status.source).index[0].date()
        message = f"no spread on or before {args.as_of}: the history of {status.source_label} starts on {first}"
        if args.json:
            print(json.dumps({"error": "before history", "source": status.source, "message": message}))
        else:
            print(message, file=sys.stderr)
        return EXIT_USAGE
    if report is None:
        err = result.refresh.message if not result.refresh.ok else None
        if args.json:
            print(json.dumps({"error": "no data", "source": status.source, "message": err}, ensure_ascii=False))
        else:
            print(render("no_data", settings.lang, source_label=status.source_label, error=err))
        return EXIT_STALE
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        ctx = {"snap": report.snapshot, "report": report, "status": status, "stale": report.stale}
        print(render("spread", settings.lang, **ctx))
        print()
        print(render("top5", settings.lang, **ctx))
    if not result.refresh.ok:
        print(f"warning: refresh failed, showing the last good data: {result.refresh.message}", file=sys.stderr)
        return EXIT_STALE
    if status.incomplete is not None and args.as_of is None:
        lacking = ", ".join(f"{name} ({code})" for code, name in status.incomplete.missing)
        print(
            f"warning: {status.incomplete.day} is incomplete, no close for {lacking}; "
            f"showing {report.snapshot.as_of}, the last complete day",
            file=sys.stderr,
        )
        return EXIT_STALE
    return EXIT_OK


def cmd_backfill(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    engine = open_engine(settings)
    result = engine.update()
    r = result.refresh
    print(
        f"{r.source}: {'ok' if r.ok else 'FAILED'} - {r.message}; data up to {r.last_date}; "
        f"{result.snapshots_written} snapshot(s) written; latest snapshot {result.last_snapshot}"
    )
    return EXIT_OK if r.ok else EXIT_STALE


def cmd_check_config(args: argparse.Namespace) -> int:
    from jobs.calendar import CalendarFileError, TradingCalendar

    settings, path = load_settings(args.config)
    token = "set" if settings.bot_token() else "NOT set"
    try:
        stored = Store(settings.storage.path).calendar_days() if settings.storage.path.exists() else []
        calendar = TradingCalendar.default(stored, calendar_file=settings.data.calendar_file)
    except CalendarFileError as exc:
        print(f"config error: data.calendar_file: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from jobs.regimes.file_inputs import InputFileError, describe, load_file_inputs

    try:
        regime_files = load_file_inputs(settings.regimes.inputs)
    except InputFileError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"config ok ({path or 'built-in defaults'}); source {settings.data.source}; "
        f"store {settings.storage.path}; bot token in ${settings.telegram.token_env}: {token}"
    )
    base = settings.data.calendar_file or "akshare's calendar file"
    print(
        f"trading calendar known until {calendar.known_until or 'nowhere (no calendar file)'} "
        f"({base}, {len(stored)} refreshed day(s)); after it: weekdays except 1 Jan and 1-7 Oct, unconfirmed"
    )
    for line in describe(regime_files):
        print(line)
    return EXIT_OK


def cmd_calendar_refresh(args: argparse.Namespace) -> int:
    from jobs.calendar_refresh import refresh_calendar

    settings = settings_from_args(args)
    engine = open_engine(settings)
    result = refresh_calendar(engine.store, settings.data, engine.today())
    print(f"calendar: {'ok' if result.ok else 'FAILED'} - {result.message}")
    return EXIT_OK if result.ok else EXIT_STALE


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import run

    run(settings_from_args(args))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spreadwatch", description="A-share industry differentiation alerts")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("report", help="refresh, compute and print the /spread and /top5 answers")
    _common(p)
    p.add_argument("--as-of", type=_date, metavar="DATE", help="show the snapshot of this day (YYYY-MM-DD)")
    p.add_argument("--lang", choices=["zh", "en"], help="message language (default: config lang)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the messages")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("backfill", help="fetch all missing history into the store and compute snapshots")
    _common(p)
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("calendar-refresh", help="extend the trading calendar from the live source (Sina via akshare)")
    _common(p)
    p.set_defaults(func=cmd_calendar_refresh)

    from bot.daily_cli import add_run_daily_command

    add_run_daily_command(sub, _common, _date)

    from bot.backtest_cli import add_backtest_command

    add_backtest_command(sub, _common, _date)

    from bot.regime_cli import add_regime_command

    add_regime_command(sub, _common, _date)

    p = sub.add_parser("run", help="start the Telegram bot (token from $TELEGRAM_BOT_TOKEN or telegram.token_env)")
    _common(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate the configuration and exit")
    p.add_argument("--config", metavar="PATH")
    p.set_defaults(func=cmd_check_config)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # python-telegram-bot's HTTP client logs request URLs, which contain the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
