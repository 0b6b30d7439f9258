"""CSV exports, pure: the daily spread history (``/export``) and the backtest's episodes (``--csv``).

Numbers are written with ``repr`` so a re-import gives back exactly the stored floats. Lists of
industries are joined with ``;`` (names never contain it). Every list of names comes twice: as the
source names them (Chinese for Shenwan) and with Shenwan's English names (``*_en``), so one file
serves readers of either language and keeps the same columns whoever asked for it.

The text starts with a UTF-8 byte-order mark because Excel, which most users open these in,
otherwise reads Chinese names as mojibake; read it back with ``encoding="utf-8-sig"``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from jobs.engine.backtest import BacktestResult
from jobs.market.industry_names import display_name
from jobs.model.figures import IndustryGain, Snapshot

BOM = "\ufeff"
LIST_SEP = ";"

HISTORY_COLUMNS = (
    "date",
    "spread",
    "percentile",
    "top5",
    "bottom5",
    "top5_codes",
    "bottom5_codes",
    "top5_en",
    "bottom5_en",
)


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _english(gains: Iterable[IndustryGain]) -> str:
    return LIST_SEP.join(display_name(g.name, g.code, "en", g.name_en) for g in gains)


def history_csv(snapshots: Iterable[Snapshot]) -> str:
    """One row per day: spread and percentile (percent), top and bottom K names and codes."""
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for s in snapshots:
        writer.writerow(
            (
                s.as_of.isoformat(),
                _num(s.spread),
                _num(s.percentile),
                LIST_SEP.join(g.name for g in s.top),
                LIST_SEP.join(g.name for g in s.bottom),
                LIST_SEP.join(g.code for g in s.top),
                LIST_SEP.join(g.code for g in s.bottom),
                _english(s.top),
                _english(s.bottom),
            )
        )
    return buf.getvalue()


def episodes_csv(result: BacktestResult) -> str:
    """One row per episode; ``end`` empty while open; forward columns suffixed ``_<N>m``
    (``carried_forward``: basket members counted at a close older than that day); with the regime
    history attached, each scenario's state at firing, peak and resolve and its first day on."""
    fixed = [
        "start",
        "end",
        "peak_day",
        "peak_spread",
        "trading_days",
        "spread_at_fire",
        "percentile_at_fire",
        "top5",
        "bottom5",
        "top5_codes",
        "bottom5_codes",
        "top5_en",
        "bottom5_en",
    ]
    per = ["day", "spread_change", "relative_return", "top_return", "bottom_return", "carried_forward"]
    header = fixed + [f"{name}_{m}m" for m in result.horizons for name in per]
    scenario_names = list(result.regimes.episodes[0].at_fire) if result.regimes and result.regimes.episodes else []
    moments = ("at_fire", "at_peak", "at_resolve", "first_on")
    header += [f"{name}_{moment}" for name in scenario_names for moment in moments]
    buf = io.StringIO()
    buf.write(BOM)
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for e in result.episodes:
        row = [
            e.start.isoformat(),
            e.end.isoformat() if e.end else "",
            e.peak_day.isoformat(),
            _num(e.peak_spread),
            str(e.trading_days),
            _num(e.spread_at_fire),
            _num(e.percentile_at_fire),
            LIST_SEP.join(e.basket.top_names or e.basket.top),
            LIST_SEP.join(e.basket.bottom_names or e.basket.bottom),
            LIST_SEP.join(e.basket.top),
            LIST_SEP.join(e.basket.bottom),
            LIST_SEP.join(e.basket.english("top")),
            LIST_SEP.join(e.basket.english("bottom")),
        ]
        for m in result.horizons:
            f = e.forward(m)
            if f is None:
                row += [""] * len(per)
                continue
            row += [
                f.day.isoformat() if f.day else "",
                _num(f.spread_change),
                _num(f.relative_return),
                _num(f.top_return),
                _num(f.bottom_return),
                LIST_SEP.join(f.carried),
            ]
        sc = result.scenarios(e)
        if sc is not None:
            for name in scenario_names:
                resolve = sc.at_resolve[name].value if sc.at_resolve is not None else ""
                first = sc.first_on[name]
                row += [sc.at_fire[name].value, sc.at_peak[name].value, resolve, first.isoformat() if first else ""]
        writer.writerow(row)
    return buf.getvalue()


SYNTHETIC_CSV_LINE = "# SYNTHETIC sample data for demonstration, not market data\n"


def marked_csv(text: str, synthetic: bool) -> str:
    """A CSV built from the synthetic sample starts with a comment line saying so (``pandas.read_csv(...,
    comment="#")`` and spreadsheets read past it): a file travels without the message that came with it."""
    return SYNTHETIC_CSV_LINE + text if synthetic else text
