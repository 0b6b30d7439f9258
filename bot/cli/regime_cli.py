"""``spreadwatch regime [--as-of DATE] [--json]``: every regime scenario with its state and evidence.

``--history [--from D] [--to D] [--csv PATH] [--png PATH]`` replays every stored trading day instead
(``bot.cli.regime_history_cli``). Configured input files (``regimes.inputs``) are validated first: a bad
one stops the command with one line naming the key (exit 2).

Refreshes the prices and the regime inputs that are due (like ``report``; ``--no-refresh`` reads the
store only), then evaluates as of the date. Without ``--record`` nothing is stored; with it the
states, transitions and their alerts are recorded exactly as the bot's ``regimes`` job records them
(for a cron setup: ``spreadwatch run-daily && spreadwatch regime --record``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.cli.cli_common import (
    ExitCode,
    add_common_options,
    add_force_option,
    check_output_path,
    date_arg,
    open_engine,
    output_file,
    print_message,
    settings_from_args,
    warn,
)
from bot.cli.regime_history_cli import history_arguments_error, load_files, print_history
from jobs.alerting.regime_alerts import run_regimes
from jobs.alerting.services import Services
from jobs.config.languages import LANGS
from jobs.regimes.inputs import refresh_regime_inputs
from jobs.regimes.service import evaluate_regimes
from jobs.rendering.messages import render
from jobs.store.chats import ChatRepo


def add_regime_command(sub: Any) -> None:
    p = sub.add_parser("regime", help="print the regime scenarios: state, evidence, as-of dates, staleness")
    add_common_options(p)
    p.add_argument("--as-of", type=date_arg, metavar="DATE", help="evaluate as of this day (default: today)")
    p.add_argument("--lang", choices=LANGS, help="message language (default: config lang)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the message")
    p.add_argument("--no-refresh", action="store_true", help="do not fetch; use the stored data only")
    p.add_argument(
        "--record",
        action="store_true",
        help="also store the states and queue fire/resolve alerts, as the bot's regimes job does (for cron)",
    )
    p.add_argument("--history", action="store_true", help="every stored trading day's scenarios, each as of that day")
    p.add_argument("--from", dest="start", type=date_arg, metavar="DATE", help="with --history: first day")
    p.add_argument("--to", dest="end", type=date_arg, metavar="DATE", help="with --history: last day")
    p.add_argument("--csv", type=output_file, metavar="PATH", help="with --history: write one row per day as CSV")
    p.add_argument(
        "--png", type=output_file, metavar="PATH", help="with --history: write the chart (one band per scenario)"
    )
    add_force_option(p)
    p.set_defaults(func=cmd_regime)


def cmd_regime(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if (problem := history_arguments_error(args)) is not None:
        warn(problem)
        return ExitCode.CONFIG
    for path in (args.csv, args.png):
        if path is not None:
            check_output_path(path, args.force)  # before the refresh and the replay, not after
    files = load_files(settings)
    if files is None:
        return ExitCode.CONFIG
    engine = open_engine(settings)
    as_of = args.as_of or engine.today()
    failed: list[str] = []
    if not args.no_refresh:
        result = engine.update(until=engine.today())
        if not result.refresh.ok:
            failed.append(f"prices: {result.refresh.message}")
        failed += [
            f"{r.kind}: {r.message}" for r in refresh_regime_inputs(engine.store, settings, engine.today()) if not r.ok
        ]
    if args.history:
        code = print_history(args, settings, engine, files)
        for line in failed:
            warn(f"warning: refresh failed, showing the last good data: {line}")
        return code if code != ExitCode.OK or not failed else ExitCode.STALE
    if args.record:
        services = Services(settings=settings, store=engine.store, engine=engine, chats=ChatRepo(engine.store))
        report = run_regimes(services, as_of, fetch=False).report
    else:
        report = evaluate_regimes(engine.store, settings, engine.source.name, as_of, files)
    if args.json:
        print(json.dumps({**report.to_json(), "fetch_errors": failed}, ensure_ascii=False, indent=2))
    else:
        print_message(
            render("regime", settings.lang, report=report, bot_commands=False, synthetic=engine.source.synthetic)
        )
    for line in failed:
        warn(f"warning: refresh failed, showing the last good data: {line}")
    return ExitCode.STALE if failed else ExitCode.OK
