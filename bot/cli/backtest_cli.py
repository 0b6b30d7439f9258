"""``spreadwatch backtest``: refresh like ``report``, replay the configured rules, print the episodes.

    spreadwatch backtest [--from 2010-01-01] [--to DATE] [--config PATH] [--source SPEC] [--db PATH]
                         [--csv PATH] [--png PATH] [--json]

``--to`` cuts the data as if that day were today: an episode still firing then is open and forward
figures past it are unknown. Exit codes as ``report``: 1 when the refresh failed (the backtest still
runs on the last good data) or there is no data at all (the message says why); 4 when ``--csv`` or
``--png`` cannot be written (checked before the work starts).
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from typing import Any

from bot.cli.backtest_regimes_cli import regime_lines
from bot.cli.cli_common import (
    ExitCode,
    add_common_options,
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
from bot.cli.regime_history_cli import load_files
from jobs.engine.backtest import BacktestResult, load_backtest
from jobs.engine.export import episodes_csv
from jobs.engine.rules import params_from_settings
from jobs.regimes.episodes import attach_regimes
from jobs.rendering.charts import spread_chart

DEFAULT_FROM = date(2010, 1, 1)


def add_backtest_command(sub: Any) -> None:
    p = sub.add_parser("backtest", help="replay the alert rules over the stored history and show what followed")
    add_common_options(p)
    p.add_argument("--rules", dest="config", metavar="PATH", help="same as --config: the alerts section is used")
    p.add_argument(
        "--from", dest="start", type=date_arg, default=DEFAULT_FROM, metavar="DATE", help="first day (2010-01-01)"
    )
    p.add_argument("--to", dest="end", type=date_arg, metavar="DATE", help="last day (default: the latest data)")
    p.add_argument("--csv", type=output_file, metavar="PATH", help="write the episodes as CSV")
    p.add_argument("--png", type=output_file, metavar="PATH", help="write the chart with the episodes shaded")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.set_defaults(func=cmd_backtest)


def _f(value: float | None, fmt: str = "{:+.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def format_table(result: Any) -> str:
    """Plain text for a terminal (the bot's message is the ``backtest`` template)."""

    assert isinstance(result, BacktestResult)
    p = result.params
    if result.first_day is None:
        return "Backtest: no stored trading day in the requested range."
    lines = [
        f"Backtest {result.first_day} .. {result.last_day}: fire at >= P{p.enter:g}, resolve below P{p.resolve:g}"
        + (f", {p.consecutive_days} consecutive days" if p.consecutive_days > 1 else ""),
        "",
    ]
    hz = result.horizons
    head = (
        f"{'#':>3} {'start':<10} {'end':<10} {'days':>4} {'spread':>6} {'pctl':>5} {'peak':<10} {'peak':>6}  "
        + " ".join(f"{'dS' + str(m) + 'm':>6}" for m in hz)
        + "  "
        + " ".join(f"{'T-B' + str(m) + 'm':>6}" for m in hz)
    )
    lines.append(head)
    lines.append("-" * len(head))
    for i, e in enumerate(result.episodes, start=1):
        fw = [e.forward(m) for m in hz]
        lines.append(
            f"{i:>3} {e.start.isoformat():<10} {(e.end.isoformat() if e.end else 'open'):<10} {e.trading_days:>4} "
            f"{e.spread_at_fire:>6.1f} {e.percentile_at_fire:>5.1f} {e.peak_day.isoformat():<10} "
            f"{e.peak_spread:>6.1f}  "
            + " ".join(f"{_f(f.spread_change if f else None):>6}" for f in fw)
            + "  "
            + " ".join(f"{_f(f.relative_return if f else None) + ('*' if f and f.carried else ''):>6}" for f in fw)
        )
    s = result.summary
    rate = "-" if s.hit_rate is None else f"{s.hit_rate:.0f}%"
    lines += [
        "",
        f"Episodes: {s.episodes} ({s.open_episodes} open); median length {_f(s.median_trading_days, '{:.0f}')} "
        "trading days",
        f"Spread lower {s.hit_horizon} months later: {s.hits} of {s.evaluated} ({rate})",
        "Median spread change (pts): " + ", ".join(f"{m}m {_f(s.median_spread_change.get(m))}" for m in hz),
        "Median top-5 minus bottom-5 return (pts): "
        + ", ".join(f"{m}m {_f(s.median_relative_return.get(m))}" for m in hz),
        "",
        "dS = spread change since firing; T-B = equal-weight top five minus bottom five at firing, return in % points.",
        "* = a basket member was no longer published by then: counted at its last close (carried forward).",
    ]
    if result.revised_from is not None:
        lines.append(
            f"Revised data: the source restated closes from {result.revised_from} on; this replay uses the revised "
            "history, so episodes from then on may differ from the alerts sent at the time."
        )

    return "\n".join(lines + regime_lines(result))


def cmd_backtest(args: argparse.Namespace) -> int:
    for path in (args.csv, args.png):
        if path is not None:
            check_output_path(path)  # before the refresh and the replay, not after
    settings = settings_from_args(args)
    engine = open_engine(settings)
    update = engine.update()
    source = engine.source.name
    if engine.store.last_snapshot_date(source) is None:
        print_message(no_data_message(engine, no_data_reason(engine, update), settings.lang))
        return ExitCode.STALE
    result = load_backtest(engine.store, source, params_from_settings(settings.alerts), args.start, args.end)
    if result.first_day is None:
        # as `regime --history`: a range that holds no stored day is a wrong argument, not an empty answer
        series = engine.store.spread_series(source)
        first, last = series.index[0].date(), series.index[-1].date()
        warn(
            f"no stored trading day between {args.start} and {args.end or last}: the history of {source} runs "
            f"{first} .. {last}; give --from/--to within it"
        )
        return ExitCode.CONFIG

    files = load_files(settings)
    if files is None:
        return ExitCode.CONFIG
    result = attach_regimes(engine.store, settings, engine.source.name, result, args.start, args.end, files)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print(format_table(result))
    if args.csv:
        write_output(args.csv, episodes_csv(result))
    if args.png:
        series = engine.store.spread_series(source, end=args.end)
        png = spread_chart(
            series,
            today=result.last_day,
            episodes=[(e.start, e.end) for e in result.episodes],
            title=f"Spread and alert episodes, {result.first_day} to {result.last_day}",
            view_from=args.start,
        )
        write_output(args.png, png)
    if not update.refresh.ok:
        warn(f"warning: refresh failed, backtest on the last good data: {update.refresh.message}")
        return ExitCode.STALE
    return ExitCode.OK
