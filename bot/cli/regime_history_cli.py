"""``spreadwatch regime --history``: the scenarios of every stored trading day, as text, JSON, CSV, PNG."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.cli_common import ExitCode, print_message, write_output
from jobs.config.settings import Settings
from jobs.regimes.file_inputs import FileInputs, InputFileError, load_file_inputs
from jobs.regimes.history import build_history, history_context
from jobs.regimes.regime_chart import history_png
from jobs.rendering.messages import render


def history_arguments_error(args: argparse.Namespace) -> str | None:
    """Options of the history given without ``--history`` (or with ``--as-of``, which it replaces)."""
    if args.history:
        if args.as_of is not None:
            return "--as-of and --history exclude each other: use --from/--to with --history"
        if args.record:
            return "--record and --history exclude each other: a history stores nothing"
        return None
    given = [
        flag
        for flag, value in (("--from", args.start), ("--to", args.end), ("--csv", args.csv), ("--png", args.png))
        if value
    ]
    return f"{', '.join(given)} need(s) --history" if given else None


def load_files(settings: Settings) -> FileInputs | None:
    """The configured input files, validated; None (after one line on stderr) when one is unusable."""
    try:
        return load_file_inputs(settings.regimes.inputs)
    except InputFileError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return None


def print_history(args: argparse.Namespace, settings: Settings, engine: Any, files: FileInputs) -> int:
    store, source = engine.store, engine.source.name
    if store.last_snapshot_date(source) is None:
        print(f"no data for {source}: nothing to replay", file=sys.stderr)
        return ExitCode.STALE
    history = build_history(store, settings, source, args.start, args.end, files)
    if not history.days:
        first = store.spread_series(source).index[0].date()
        last = store.last_snapshot_date(source)
        print(
            f"no stored trading day between {args.start or first} and {args.end or last}: "
            f"the history of {source} runs {first} .. {last}; give --from/--to within it",
            file=sys.stderr,
        )
        return ExitCode.CONFIG
    if args.json:
        print(json.dumps(history.to_json(), ensure_ascii=False, indent=2))
    else:
        print_message(
            render(
                "regime_history",
                settings.lang,
                **history_context(history, engine.source.label, engine.source.synthetic),
            )
        )
    if args.csv:
        write_output(args.csv, history.to_csv(), args.force)
    if args.png:
        write_output(
            args.png, history_png(store, settings, source, history, settings.lang, engine.source.synthetic), args.force
        )
    return ExitCode.OK
