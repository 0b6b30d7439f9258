"""The regime part of ``spreadwatch backtest``: each episode's scenarios, and composite on versus off.

Plain text for a terminal, as ``bot.cli.backtest_cli.format_table`` (the bot's message is a template).
"""

from __future__ import annotations

from jobs.engine.backtest import BacktestResult
from jobs.regimes.episodes import BacktestRegimes
from jobs.regimes.history import InputNote
from jobs.regimes.types import State

SHORT = {
    "en": {State.ON: "ON", State.WATCH: "w", State.OFF: ".", State.UNKNOWN: "?"},
    "zh": {State.ON: "●", State.WATCH: "◐", State.OFF: ".", State.UNKNOWN: "?"},
}
NAMES = ("macro", "heat", "reversal", "breadth", "composite")
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Scenarios per episode (ON on, w watch, . off, ? unknown)",
        "start": "start",
        "cols": "   (fire/peak/resolve; first day on)",
        "open": "open",
        "first_on": "first on: {days}",
        "none": "none",
        "group": "Composite {label} at firing: {n} episode(s); spread lower {h} months later in {hits} of {evaluated} "
        "({rate}); median change {change} pts",
        "on": "on",
        "not_on": "not on",
        "sep": ", ",
        "note": "Note: {note}",
    },
    "zh": {
        "title": "各次预警的情景（● 触发，◐ 关注，. 未触发，? 未知）",
        "start": "触发日",
        "cols": "   （触发日/峰值日/解除日；首次触发日）",
        "open": "持续中",
        "first_on": "首次触发：{days}",
        "none": "无",
        "group": "触发时收敛风险{label}：{n} 次预警；{h} 个月后分化度回落 {evaluated} 次中 {hits} 次（{rate}）；"
        "变化中位数 {change} 个百分点",
        "on": "已触发",
        "not_on": "未触发",
        "sep": "，",
        "note": "注：{note}",
    },
}
SCENARIO_ZH = {"macro": "宏观", "heat": "热度", "reversal": "反转", "breadth": "扩散", "composite": "收敛风险"}
NOTE_ZH = {
    "gap": "{label} 在 {first} 至 {last} 没有数据：其间热度情景未知，除非另有数据覆盖",
    "starts": "{label} 的数据始于 {first}",
    "pmi_starts": "PMI数据始于 {first:%Y-%m}",
    "no_pmi": "未存储也未配置PMI（regimes.inputs.pmi）：宏观情景未知",
    "no_heat": "没有成交额或市盈率数据（regimes.inputs.amount / .pe）：热度情景未知",
}


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def _note(note: InputNote, lang: str) -> str:
    if lang != "zh":
        return str(note)
    return NOTE_ZH[note.kind].format(label=note.label, first=note.first, last=note.last)


def regime_lines(result: BacktestResult, lang: str = "en") -> list[str]:
    r = result.regimes
    if not isinstance(r, BacktestRegimes):
        return []
    w, short = WORDS[lang], SHORT[lang]
    names = [SCENARIO_ZH[n] if lang == "zh" else n for n in NAMES]
    head = f"{'#':>3} {w['start']:<10}  " + " ".join(f"{n[:9]:>9}" for n in names) + w["cols"]
    lines = ["", w["title"], head, "-" * len(head)]
    for i, (e, sc) in enumerate(zip(result.episodes, r.episodes, strict=True), start=1):
        cells = []
        for n in NAMES:
            resolve = short[sc.at_resolve[n]] if sc.at_resolve is not None else w["open"]
            cells.append(f"{short[sc.at_fire[n]]}/{short[sc.at_peak[n]]}/{resolve}")
        lines.append(f"{i:>3} {e.start.isoformat():<10}  " + " ".join(f"{c:>9}" for c in cells))
        firsts = [f"{SCENARIO_ZH[n] if lang == 'zh' else n} {d}" for n, d in sc.first_on.items() if d is not None]
        lines.append(f"{'':>3} {'':<10}  " + w["first_on"].format(days=w["sep"].join(firsts) if firsts else w["none"]))
    h = r.horizon
    lines.append("")
    for label, g in ((w["on"], r.composite_on), (w["not_on"], r.composite_not_on)):
        rate = "-" if g.hit_rate is None else f"{g.hit_rate:.0f}%"
        lines.append(
            w["group"].format(
                label=label,
                n=g.episodes,
                h=h,
                hits=g.hits,
                evaluated=g.evaluated,
                rate=rate,
                change=_f(g.median_spread_change),
            )
        )
    lines += [w["note"].format(note=_note(n, lang)) for n in r.notes]
    return lines
