"""The spread chart behind ``/history`` and ``spreadwatch backtest --png``: PNG bytes, phone-sized.

    spread_chart(series, today=None, episodes=(), title=None, lang="en", view_from=None) -> bytes

* ``series``: ``Store.spread_series(source)`` — a DatetimeIndex and a ``spread`` column (percent
  points); pass the WHOLE stored history (from ``metric.history_start``) even when showing one year,
  and zoom with ``view_from``: the P50/P90 lines are levels of the history up to each day, exactly
  the history the stored percentile ranks against, so they are only right when computed from its start.
* P50/P90: on day D, the lowest spread that would read as >= P50 (>= P90) on D under the percentile
  of ``jobs.engine.spread`` (share of days up to and including D whose spread is <= D's). A day whose spread
  is on or above the P90 line therefore has a stored percentile >= 90, and vice versa.
* ``episodes``: (start, end) pairs, ``end`` None while still open; shaded.
* ``today``: the point marked and labelled (the last day on or before it); default the last day.

Chinese charts use the CJK font shipped in ``jobs/rendering/fonts`` (a subset of Noto Sans SC, SIL OFL 1.1),
else an installed CJK font; with neither, a Chinese chart falls back to English words, since the
default fonts have no Chinese glyphs and would draw boxes. Today's value is a legend entry placed
where it covers the least of the lines, never a box pinned over the newest stretch of the series.
matplotlib is imported inside the function (about 0.3 s) so the bot starts without it, and the
figure is drawn on an explicit Agg canvas without pyplot: no global state, safe in worker threads.
"""

from __future__ import annotations

import bisect
import io
import math
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 1200, 700, 100
LEGEND_MARGIN_PX = 24
LEGEND_CORNERS: tuple[Any, ...] = (
    "upper left",
    "upper right",
    "lower right",
    "lower left",
    "upper center",
    "lower center",
)
BUNDLED_CJK_FONT = Path(__file__).resolve().parent / "fonts" / "NotoSansSC-spreadwatch-subset.otf"

# families that carry the CJK Unified Ideographs, in order of preference
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Heiti SC",
    "Arial Unicode MS",
)

LABELS = {
    "en": {
        "spread": "Spread",
        "p50": "P50 of history to date",
        "p90": "P90 of history to date",
        "episode": "Alert episodes",
        "ylabel": "Top 5 minus bottom 5, %-points",
        "title": "Industry differentiation: top-5 vs bottom-5 six-month gain",
        "latest": "Latest",
        "backtest_title": "Spread and alert episodes, {first} to {last}",
        "synthetic": "SYNTHETIC sample data, not market data",
    },
    "zh": {
        "spread": "分化度",
        "p50": "历史P50",
        "p90": "历史P90",
        "episode": "预警区间",
        "ylabel": "前五减后五涨幅 (百分点)",
        "title": "行业分化度: 前五与后五行业半年涨幅之差",
        "latest": "最新",
        "backtest_title": "分化度与预警区间 {first} 至 {last}",
        "synthetic": "合成样本数据，并非真实行情",
    },
}


@lru_cache(maxsize=2)
def cjk_font(bundled: Path = BUNDLED_CJK_FONT) -> str | None:
    """The family name of the shipped CJK font (registered with matplotlib), else of an installed one, or None."""
    from matplotlib import font_manager

    if bundled.is_file():
        font_manager.fontManager.addfont(str(bundled))
        return str(font_manager.FontProperties(fname=str(bundled)).get_name())
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


def chart_words(lang: str, font: str | None) -> dict[str, str]:
    """The chart's words in ``lang`` when a font can draw them, else in English."""
    return LABELS["zh"] if lang == "zh" and font is not None else LABELS["en"]


def today_label(day: date, value: float, pctl: float | None, words: dict[str, str]) -> str:
    return f"{words['latest']} {day.isoformat()}  {value:.1f}" + (f"  P{int(pctl)}" if pctl is not None else "")


def _style_today(legend: Any, label: str | None, words: dict[str, str]) -> None:
    for text in legend.get_texts():
        if label is not None and text.get_text() == label:
            text.set_color("#c0392b")
            if words is LABELS["en"]:  # the shipped CJK subset has no bold face
                text.set_fontweight("bold")


def _covers_line(fig: Any, ax: Any, legend: Any, spread: pd.Series) -> bool:
    """Whether the legend, where "best" put it, hides a point of the spread line."""
    import matplotlib.dates as mdates

    ax.get_xlim(), ax.get_ylim()  # settles the lazy autoscale that transData depends on
    # measured before the final draw the box comes out a few pixels short (the text is laid out
    # again when drawn), hence the margin
    box = legend.get_window_extent(fig.canvas.get_renderer()).padded(LEGEND_MARGIN_PX)
    xs = mdates.date2num(pd.DatetimeIndex(spread.index))
    points = ax.transData.transform(np.column_stack([xs, spread.to_numpy(dtype=float)]))
    x, y = points[:, 0], points[:, 1]
    return bool(((x >= box.x0) & (x <= box.x1) & (y >= box.y0) & (y <= box.y1)).any())


def percentile_levels(spread: pd.Series, q: float) -> pd.Series:
    """For each day, the lowest spread of the history so far whose percentile would be >= ``q``.

    percentile(x) = #{days <= D with spread <= x} / n * 100, so the level is the ceil(q/100 * n)-th
    smallest spread among the n days up to D.
    """
    values = spread.to_numpy(dtype=float)
    seen: list[float] = []
    out = np.empty(len(values))
    for i, v in enumerate(values):
        bisect.insort(seen, v)
        n = i + 1
        # the 1e-9 keeps 0.9 * 10 from becoming 9.000000000000002 and rounding up to the 10th value
        rank = max(1, math.ceil(q / 100.0 * n - 1e-9))
        out[i] = seen[rank - 1]
    return pd.Series(out, index=spread.index, name=f"p{q:g}")


def episode_spans(
    episodes: Sequence[tuple[date, date | None]], first: pd.Timestamp, last: pd.Timestamp
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Episodes clipped to the plotted range (an open one runs to the end), each at least a day wide
    so that a one-day episode still gets a visible band."""
    spans = []
    for start, end in episodes:
        s = max(pd.Timestamp(start), first)
        e = min(pd.Timestamp(end), last) if end is not None else last
        if s > last or e < first or e < s:
            continue
        spans.append((s, max(e, s + pd.Timedelta(days=1))))
    return spans


def _is_ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def mark_synthetic(ax: Any, words: dict[str, str]) -> None:
    """The synthetic sample's warning across the plot, in the chart's language."""
    ax.text(
        0.5,
        0.5,
        words["synthetic"],
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=28,
        color="#c0392b",
        alpha=0.35,
        rotation=12,
        zorder=0,
    )


def spread_chart(
    series: pd.DataFrame,
    *,
    today: date | None = None,
    episodes: Sequence[tuple[date, date | None]] = (),
    title: str | None = None,
    lang: str = "en",
    view_from: date | None = None,
    synthetic: bool = False,
    width_px: int = WIDTH_PX,
    height_px: int = HEIGHT_PX,
) -> bytes:
    """Draw the chart and return PNG bytes of exactly ``width_px`` x ``height_px``."""
    buf = io.BytesIO()
    spread_figure(
        series,
        today=today,
        episodes=episodes,
        title=title,
        lang=lang,
        view_from=view_from,
        synthetic=synthetic,
        width_px=width_px,
        height_px=height_px,
        png=buf,
    )
    return buf.getvalue()


def spread_figure(
    series: pd.DataFrame,
    *,
    today: date | None = None,
    episodes: Sequence[tuple[date, date | None]] = (),
    title: str | None = None,
    lang: str = "en",
    view_from: date | None = None,
    synthetic: bool = False,
    width_px: int = WIDTH_PX,
    height_px: int = HEIGHT_PX,
    png: IO[bytes] | None = None,
) -> Figure:
    """The drawn figure (its artists laid out, for inspection), written as PNG to ``png`` if given.

    The font settings apply only while drawing, so the PNG is written here rather than by the caller.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if series.empty:
        raise ValueError("no spread history to draw")
    spread = series["spread"].astype(float)
    p50 = percentile_levels(spread, 50.0)
    p90 = percentile_levels(spread, 90.0)
    if view_from is not None:
        start = pd.Timestamp(view_from)
        if start > spread.index[-1]:
            start = spread.index[-1]
        spread, p50, p90 = spread.loc[start:], p50.loc[start:], p90.loc[start:]
    first, last = spread.index[0], spread.index[-1]

    font = cjk_font()
    words = chart_words(lang, font)
    if title is None or (not _is_ascii(title) and font is None):
        title = words["title"]
    rc: dict[str, Any] = {"font.size": 17, "axes.titlesize": 20, "axes.labelsize": 17, "legend.fontsize": 15}
    if font is not None and (words is LABELS["zh"] or not _is_ascii(title)):
        rc["font.sans-serif"] = [font, "DejaVu Sans"]

    import matplotlib

    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(spread.index, spread.to_numpy(), color="#1f4e9c", linewidth=2.2, label=words["spread"])
        ax.plot(p50.index, p50.to_numpy(), color="#7f7f7f", linewidth=1.6, linestyle="--", label=words["p50"])
        ax.plot(p90.index, p90.to_numpy(), color="#c0392b", linewidth=1.8, linestyle="--", label=words["p90"])

        shaded = False
        for s, e_draw in episode_spans(episodes, first, last):
            ax.axvspan(s, e_draw, color="#f39c12", alpha=0.25, linewidth=0, label=None if shaded else words["episode"])
            shaded = True

        pos = len(spread) - 1 if today is None else int(spread.index.searchsorted(pd.Timestamp(today), "right")) - 1
        label = None
        if pos >= 0:
            ts, value = spread.index[pos], float(spread.iloc[pos])
            pctl = series["percentile"].loc[ts] if "percentile" in series.columns else None
            label = today_label(ts.date(), value, pctl, words)
            ax.scatter([ts], [value], s=160, color="#c0392b", zorder=5, edgecolors="white", linewidths=2, label=label)

        ax.set_title(title)
        ax.set_ylabel(words["ylabel"])
        if synthetic:  # a picture travels without its caption: the sample says what it is on the picture
            mark_synthetic(ax, words)
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.01, y=0.08)
        fig.autofmt_xdate()
        fig.tight_layout()
        # today's label lives in the legend, and the legend goes in the first corner where it hides
        # no point of the spread line (matplotlib's "best" is re-decided at every draw and only
        # minimises the overlap); with no free corner it goes above the axes
        legend = None
        for loc in LEGEND_CORNERS:
            legend = ax.legend(loc=loc, framealpha=0.9)
            _style_today(legend, label, words)
            if not _covers_line(fig, ax, legend, spread):
                break
            legend.remove()
            legend = None
        if legend is None:
            ax.set_title(title, pad=12 + 30 * math.ceil(len(ax.get_legend_handles_labels()[1]) / 3))
            legend = ax.legend(
                loc="lower left", bbox_to_anchor=(0.0, 1.0, 1.0, 0.1), mode="expand", ncol=3, framealpha=0.9
            )
            _style_today(legend, label, words)
            fig.tight_layout()
        if png is not None:
            canvas.print_png(png)
        else:
            canvas.draw()
    return fig
