"""``spreadwatch backtest``: refresh like ``report``, replay the configured rules, print the episodes.

    spreadwatch backtest [--from 2010-01-01] [--to DATE] [--config PATH] [--source SPEC] [--db PATH]
                         [--csv PATH] [--png PATH] [--json] [--lang zh|en]

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
from bot.cli.regime_history_cli import load_files
from jobs.config.languages import LANGS
from jobs.engine.backtest import BacktestResult, load_backtest
from jobs.engine.export import episodes_csv, marked_csv
from jobs.engine.rules import params_from_settings
from jobs.regimes.episodes import attach_regimes
from jobs.rendering.charts import chart_words, cjk_font, spread_chart

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
    add_force_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--lang", choices=LANGS, help="language of the table and the chart (default: config lang)")
    p.set_defaults(func=cmd_backtest)


def _f(value: float | None, fmt: str = "{:+.1f}") -> str:
    return "-" if value is None else fmt.format(value)


WORDS: dict[str, dict[str, str]] = {
    "en": {
        "empty": "Backtest: no stored trading day in the requested range.",
        "synthetic": "SYNTHETIC sample data for demonstration, not market data.",
        "title": "Backtest {first} .. {last}: fire at >= P{enter}, resolve below P{resolve}",
        "consecutive": ", {n} consecutive days",
        "cols": "start|end|days|spread|pctl|peak|peak|dS{m}m|T-B{m}m",
        "open": "open",
        "episodes": "Episodes: {n} ({open} open); median length {days} trading days",
        "hits": "Spread lower {h} months later: {hits} of {evaluated} ({rate})",
        "median_spread": "Median spread change (pts): ",
        "median_relative": "Median top-5 minus bottom-5 return (pts): ",
        "horizon": "{m}m {value}",
        "sep": ", ",
        "legend": "dS = spread change since firing; T-B = equal-weight top five minus bottom five at firing, "
        "return in % points.",
        "carried": "* = a basket member was no longer published by then: counted at its last close (carried forward).",
        "revised": "Revised data: the source restated closes from {day} on; this replay uses the revised history, "
        "so episodes from then on may differ from the alerts sent at the time.",
    },
    "zh": {
        "empty": "回测：所选区间内没有已存储的交易日。",
        "synthetic": "合成样本数据，仅供演示，并非真实行情。",
        "title": "预警规则回测 {first} 至 {last}：分位 ≥ P{enter} 时触发，低于 P{resolve} 解除",
        "consecutive": "，需连续 {n} 个交易日",
        "cols": "触发日|解除日|天数|分化度|分位|峰值日|峰值|分化{m}月|前减后{m}月",
        "open": "持续中",
        "episodes": "预警次数：{n}（{open} 次仍在持续）；持续时间中位数 {days} 个交易日",
        "hits": "{h} 个月后分化度回落：{evaluated} 次中 {hits} 次（{rate}）",
        "median_spread": "分化度变化中位数（百分点）：",
        "median_relative": "前五减后五收益中位数（百分点）：",
        "horizon": "{m}个月 {value}",
        "sep": "，",
        "legend": "分化 = 自触发日起分化度的变化；"
        "前减后 = 触发日涨幅前五行业等权组合收益减去后五行业等权组合收益，单位为百分点。",
        "carried": "* = 组合中有行业指数届时已停止发布，按其最后收盘价计。",
        "revised": "数据已修订：数据源修订了 {day} 起的收盘价；"
        "本回测使用修订后的历史，因此该日之后的区间可能与当时发出的提醒不同。",
    },
}


def format_table(result: Any, lang: str = "en") -> str:
    """Plain text for a terminal, in ``lang`` (the bot's message is the ``backtest`` template)."""

    assert isinstance(result, BacktestResult)
    w = WORDS[lang]
    p = result.params
    if result.first_day is None:
        return w["empty"]
    lines = [
        w["title"].format(first=result.first_day, last=result.last_day, enter=f"{p.enter:g}", resolve=f"{p.resolve:g}")
        + (w["consecutive"].format(n=p.consecutive_days) if p.consecutive_days > 1 else ""),
        "",
    ]
    hz = result.horizons
    c = w["cols"].split("|")
    head = (
        f"{'#':>3} {c[0]:<10} {c[1]:<10} {c[2]:>4} {c[3]:>6} {c[4]:>5} {c[5]:<10} {c[6]:>6}  "
        + " ".join(f"{c[7].format(m=m):>6}" for m in hz)
        + "  "
        + " ".join(f"{c[8].format(m=m):>6}" for m in hz)
    )
    lines.append(head)
    lines.append("-" * len(head))
    for i, e in enumerate(result.episodes, start=1):
        fw = [e.forward(m) for m in hz]
        lines.append(
            f"{i:>3} {e.start.isoformat():<10} {(e.end.isoformat() if e.end else w['open']):<10} {e.trading_days:>4} "
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
        w["episodes"].format(n=s.episodes, open=s.open_episodes, days=_f(s.median_trading_days, "{:.0f}")),
        w["hits"].format(h=s.hit_horizon, hits=s.hits, evaluated=s.evaluated, rate=rate),
        w["median_spread"]
        + w["sep"].join(w["horizon"].format(m=m, value=_f(s.median_spread_change.get(m))) for m in hz),
        w["median_relative"]
        + w["sep"].join(w["horizon"].format(m=m, value=_f(s.median_relative_return.get(m))) for m in hz),
        "",
        w["legend"],
        w["carried"],
    ]
    if result.revised_from is not None:
        lines.append(w["revised"].format(day=result.revised_from))

    return "\n".join(lines + regime_lines(result, lang))


def cmd_backtest(args: argparse.Namespace) -> int:
    for path in (args.csv, args.png):
        if path is not None:
            check_output_path(path, args.force)  # before the refresh and the replay, not after
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
        print(json.dumps({**result.to_json(), "synthetic": engine.source.synthetic}, ensure_ascii=False, indent=2))
    else:
        print(format_table(result, settings.lang))
        if engine.source.synthetic:
            print(WORDS[settings.lang]["synthetic"])
    if args.csv:
        write_output(args.csv, marked_csv(episodes_csv(result), engine.source.synthetic), args.force)
    if args.png:
        series = engine.store.spread_series(source, end=args.end)
        png = spread_chart(
            series,
            today=result.last_day,
            episodes=[(e.start, e.end) for e in result.episodes],
            title=chart_words(settings.lang, cjk_font())["backtest_title"].format(
                first=result.first_day, last=result.last_day
            ),
            lang=settings.lang,
            view_from=args.start,
            synthetic=engine.source.synthetic,
        )
        write_output(args.png, png, args.force)
    if not update.refresh.ok:
        warn(f"warning: refresh failed, backtest on the last good data: {update.refresh.message}")
        return ExitCode.STALE
    return ExitCode.OK
