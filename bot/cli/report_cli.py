"""``spreadwatch report`` (the /spread and /top5 answers) and ``spreadwatch export`` (/export's CSV)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from typing import Any

from bot.cli.cli_common import (
    ExitCode,
    add_common_options,
    add_force_option,
    check_output_path,
    date_arg,
    no_data_message,
    no_data_reason,
    open_engine,
    output_file,
    print_message,
    settings_from_args,
    warn,
    write_output,
)
from jobs.config.languages import LANGS
from jobs.engine.export import history_csv, marked_csv
from jobs.engine.report import build_report
from jobs.rendering.messages import render, to_plain


def add_report_command(sub: Any) -> None:
    p = sub.add_parser("report", help="refresh, compute and print the /spread and /top5 answers")
    add_common_options(p)
    p.add_argument("--as-of", type=date_arg, metavar="DATE", help="show the snapshot of this day (YYYY-MM-DD)")
    p.add_argument("--lang", choices=LANGS, help="message language (default: config lang)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the messages")
    p.set_defaults(func=cmd_report)


def add_export_command(sub: Any) -> None:
    p = sub.add_parser("export", help="the daily spread history as CSV, as the bot's /export sends it")
    add_common_options(p)
    p.add_argument("--csv", type=output_file, metavar="PATH", help="write to this file (default: print to stdout)")
    add_force_option(p)
    p.add_argument("--lang", choices=LANGS, help="language of the message when there is no data")
    p.add_argument("--no-refresh", action="store_true", help="do not fetch; export the stored data only")
    p.set_defaults(func=cmd_export)


def cmd_report(args: argparse.Namespace) -> int:
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
        return ExitCode.CONFIG
    if report is None:
        reason = no_data_reason(engine, result)
        text = no_data_message(engine, reason, settings.lang)
        if args.json:
            payload = {"error": "no data", "reason": reason.code, "source": status.source, "message": to_plain(text)}
            print(json.dumps(payload, ensure_ascii=False))
        else:
            print_message(text)
        return ExitCode.STALE
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        # the terminal's reader is the operator: raw fetch errors follow the localised sentence
        ctx = {"snap": report.snapshot, "report": report, "status": status, "stale": report.stale, "admin": True}
        print_message(render("spread", settings.lang, **ctx))
        print()
        print_message(render("top5", settings.lang, **ctx))
    if (revision := result.refresh.revision) is not None:
        warn(
            f"warning: the source restated {len(revision.revisions)} stored close(s) from {revision.first_day}; "
            "the snapshots from that day were computed again"
        )
    if not result.refresh.ok:
        warn(f"warning: refresh failed, showing the last good data: {result.refresh.message}")
        return ExitCode.STALE
    if status.incomplete is not None and args.as_of is None:
        lacking = ", ".join(f"{name} ({code})" for code, name in status.incomplete.missing)
        warn(
            f"warning: {status.incomplete.day} is incomplete, no close for {lacking}; "
            f"showing {report.snapshot.as_of}, the last complete day"
        )
        return ExitCode.STALE
    return ExitCode.OK


def cmd_export(args: argparse.Namespace) -> int:
    if args.csv is not None:
        check_output_path(args.csv, args.force)  # before a refresh that may take a while
    settings = settings_from_args(args)
    engine = open_engine(settings)
    update = None if args.no_refresh else engine.update()
    source = engine.source.name
    snapshots = engine.store.snapshots_between(source, date.min, date.max)
    if not snapshots:
        print_message(no_data_message(engine, no_data_reason(engine, update), settings.lang))
        return ExitCode.STALE
    text = marked_csv(history_csv(snapshots), engine.source.synthetic)
    revised = engine.store.revision_span(source)
    note = f"revised data: the source restated closes from {revised.first_day} on" if revised else None
    if args.csv is None:
        sys.stdout.write(text)
        if note:
            print(f"note: {note}", file=sys.stderr)  # stdout is the CSV itself
    else:
        write_output(args.csv, text, args.force)
        first, last = snapshots[0].as_of, snapshots[-1].as_of
        print(f"{args.csv}: {len(snapshots)} trading days, {first} to {last}" + (f"; {note}" if note else ""))
    if update is not None and not update.refresh.ok:
        warn(f"warning: refresh failed, exported the last good data: {update.refresh.message}")
        return ExitCode.STALE
    return ExitCode.OK
