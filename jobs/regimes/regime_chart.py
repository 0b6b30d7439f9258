"""The regime history chart behind ``spreadwatch regime --history --png`` and ``/regime history``.

    regime_history_chart(history, episodes=(), title=None, lang="en") -> PNG bytes

Top: the spread with the alert episodes shaded. Below it, one band per scenario (and the composite):
red where it was on, yellow on watch, grey where it could not be evaluated (an input missing or
stale), empty where off. Its words are in the reader's language: Chinese with the CJK font
``jobs.rendering.charts`` ships (and falls back to English words without one, as that chart does).
matplotlib is imported inside the function and drawn on an explicit Agg canvas, as in ``jobs.rendering.charts``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from jobs.config.settings import Settings
from jobs.engine.backtest import replay_episodes
from jobs.engine.rules import params_from_settings
from jobs.regimes.history import ALL, RegimeHistory
from jobs.regimes.types import State
from jobs.rendering.charts import LABELS as SPREAD_LABELS
from jobs.rendering.charts import cjk_font, episode_spans, mark_synthetic
from jobs.store.datastore import Store

WIDTH_PX, HEIGHT_PX, DPI = 1200, 900, 100
COLOURS = {State.ON: "#c0392b", State.WATCH: "#f1c40f", State.UNKNOWN: "#d5d8dc"}
LABELS = {
    "en": {
        "macro": "Macro",
        "heat": "Heat",
        "reversal": "Reversal",
        "breadth": "Breadth",
        "composite": "Composite",
        "on": "on",
        "watch": "watch",
        "unknown": "unknown",
        "spread": "Spread",
        "episode": "Alert episodes",
        "ylabel": "Top 5 minus bottom 5, pts",
        "title": "Spread and regime scenarios, {first} to {last}",
    },
    "zh": {
        "macro": "宏观",
        "heat": "热度",
        "reversal": "反转",
        "breadth": "扩散",
        "composite": "收敛风险",
        "on": "触发",
        "watch": "关注",
        "unknown": "未知",
        "spread": "分化度",
        "episode": "预警区间",
        "ylabel": "前五减后五涨幅 (百分点)",
        "title": "分化度与情景 {first} 至 {last}",
    },
}


def regime_history_chart(
    history: RegimeHistory,
    *,
    episodes: Sequence[tuple[date, date | None]] = (),
    title: str | None = None,
    lang: str = "en",
    synthetic: bool = False,
    width_px: int = WIDTH_PX,
    height_px: int = HEIGHT_PX,
) -> bytes:
    """PNG bytes of exactly ``width_px`` x ``height_px``, its words in ``lang``."""
    import matplotlib
    from matplotlib import dates as mdates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    if not history.days:
        raise ValueError("no regime history to draw")
    frame = history.frame()
    first, last = frame.index[0], frame.index[-1]
    font = cjk_font()
    words = LABELS["zh"] if lang == "zh" and font is not None else LABELS["en"]
    rc: dict[str, Any] = {"font.size": 15, "axes.titlesize": 18, "legend.fontsize": 13}
    if words is LABELS["zh"]:
        rc["font.sans-serif"] = [font, "DejaVu Sans"]
    with matplotlib.rc_context(rc):  # type: ignore[arg-type]
        fig = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
        canvas = FigureCanvasAgg(fig)
        grid = fig.add_gridspec(2, 1, height_ratios=[3, 2], hspace=0.08)
        ax = fig.add_subplot(grid[0])
        bands = fig.add_subplot(grid[1], sharex=ax)
        ax.plot(frame.index, frame["spread"].to_numpy(), color="#1f4e9c", linewidth=1.8, label=words["spread"])
        shaded = False
        for s, e in episode_spans(episodes, first, last):
            ax.axvspan(s, e, color="#f39c12", alpha=0.25, linewidth=0, label=None if shaded else words["episode"])
            bands.axvspan(s, e, color="#f39c12", alpha=0.12, linewidth=0)
            shaded = True
        ax.set_ylabel(words["ylabel"])
        ax.set_title(title or words["title"].format(first=history.first, last=history.last))
        if synthetic:  # the picture travels without its caption
            mark_synthetic(ax, SPREAD_LABELS["zh" if words is LABELS["zh"] else "en"])
        ax.grid(True, alpha=0.3)
        ax.legend(loc="upper left", framealpha=0.85)
        ax.tick_params(labelbottom=False)

        rows = list(reversed(ALL))  # the composite at the bottom, next to the dates
        for y, scenario in enumerate(rows):
            for run in history.runs(scenario):
                colour = COLOURS.get(run.state)
                if colour is None:
                    continue
                x0 = mdates.date2num(run.start)
                width = mdates.date2num(run.end + timedelta(days=1)) - x0
                bands.broken_barh([(x0, width)], (y + 0.15, 0.7), facecolors=colour, linewidth=0)
        bands.set_yticks([y + 0.5 for y in range(len(rows))])
        bands.set_yticklabels([words[s.value] for s in rows])
        bands.set_ylim(0, len(rows))
        bands.grid(True, axis="x", alpha=0.3)
        bands.legend(
            handles=[Patch(color=COLOURS[s], label=words[s.value]) for s in (State.ON, State.WATCH, State.UNKNOWN)],
            loc="upper left",
            ncol=3,
            framealpha=0.85,
            bbox_to_anchor=(0, -0.12),
        )
        ax.margins(x=0.01)
        fig.subplots_adjust(left=0.11, right=0.98, top=0.94, bottom=0.12)
        buf = io.BytesIO()
        canvas.print_png(buf)
    return buf.getvalue()


def history_png(
    store: Store, settings: Settings, source: str, history: RegimeHistory, lang: str = "en", synthetic: bool = False
) -> bytes:
    """The chart in ``lang``, with the alert episodes the backtest finds over the same days."""
    spans = replay_episodes(
        store.spread_series(source), params_from_settings(settings.alerts), history.first, history.last
    )
    return regime_history_chart(history, episodes=[(s.start, s.end) for s in spans], lang=lang, synthetic=synthetic)
