"""The spread chart behind ``/history`` and ``spreadwatch backtest --png``: PNG bytes, phone-sized.

    spread_chart(series, today=None, episodes=(), title=None, lang="en", view_from=None) -> bytes

* ``series``: ``Store.spread_series(source)`` — a DatetimeIndex and a ``spread`` column (percent
  points); pass the WHOLE stored history (from ``metric.history_start``) even when showing one year,
  and zoom with ``view_from``: the P50/P90 lines are levels of the history up to each day, exactly
  the history the stored percentile ranks against, so they are only right when computed from its start.
* P50/P90: on day D, the lowest spread that would read as >= P50 (>= P90) on D under the percentile
  of ``jobs.spread`` (share of days up to and including D whose spread is <= D's). A day whose spread
  is on or above the P90 line therefore has a stored percentile >= 90, and vice versa.
* ``episodes``: (start, end) pairs, ``end`` None while still open; shaded.
* ``today``: the point marked and labelled (the last day on or before it); default the last day.

Text on the chart is ASCII unless a CJK font is installed: the default fonts have no Chinese
glyphs (they would render as boxes), so the localized words go in the Telegram caption instead.
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
from typing import Any

import numpy as np
import pandas as pd

WIDTH_PX, HEIGHT_PX, DPI = 1200, 700, 100

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
    },
    "zh": {
        "spread": "分化度",
        "p50": "历史P50",
        "p90": "历史P90",
        "episode": "预警区间",
        "ylabel": "前五减后五涨幅 (百分点)",
        "title": "行业分化度: 前五与后五行业半年涨幅之差",
    },
}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK-capable font, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FAMILIES if name in installed), None)


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


def _is_ascii(text: str) -> bool:
    return all(ord(ch) < 128 for ch in text)


def spread_chart(
    series: pd.DataFrame,
    *,
    today: date | None = None,
    episodes: Sequence[tuple[date, date | None]] = (),
    title: str | None = None,
    lang: str = "en",
    view_from: date | None = None,
    width_px: int = WIDTH_PX,
    height_px: int = HEIGHT_PX,
) -> bytes:
    """Draw the chart and return PNG bytes of exactly ``width_px`` x ``height_px``."""
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
    words = LABELS["zh"] if lang == "zh" and font else LABELS["en"]
    if title is None or (not _is_ascii(title) and font is None):
        title = words["title"]
    rc: dict[str, Any] = {"font.size": 17, "axes.titlesize": 20, "axes.labelsize": 17, "legend.fontsize": 15}
    if font is not None:
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
        for ep_start, ep_end in episodes:
            s = max(pd.Timestamp(ep_start), first)
            e = min(pd.Timestamp(ep_end), last) if ep_end is not None else last
            if s > last or e < first or e < s:
                continue
            # a one-day episode still gets a visible band
            e_draw = max(e, s + pd.Timedelta(days=1))
            ax.axvspan(s, e_draw, color="#f39c12", alpha=0.25, linewidth=0, label=None if shaded else words["episode"])
            shaded = True

        pos = len(spread) - 1 if today is None else int(spread.index.searchsorted(pd.Timestamp(today), "right")) - 1
        if pos >= 0:
            ts, value = spread.index[pos], float(spread.iloc[pos])
            ax.scatter([ts], [value], s=160, color="#c0392b", zorder=5, edgecolors="white", linewidths=2)
            pctl = series["percentile"].loc[ts] if "percentile" in series.columns else None
            label = f"{ts.date().isoformat()}  {value:.1f}" + (f"  P{int(pctl)}" if pctl is not None else "")
            ax.annotate(
                label,
                (ts, value),
                xytext=(-12, 14),
                textcoords="offset points",
                ha="right",
                fontsize=17,
                fontweight="bold",
                color="#c0392b",
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
                zorder=6,
            )

        ax.set_title(title)
        ax.set_ylabel(words["ylabel"])
        ax.grid(True, alpha=0.3)
        ax.margins(x=0.01)
        ax.legend(loc="upper left", framealpha=0.85)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        canvas.print_png(buf)
    return buf.getvalue()
