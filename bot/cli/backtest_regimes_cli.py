"""The regime part of ``spreadwatch backtest``: each episode's scenarios, and composite on versus off.

Plain text for a terminal, as ``bot.cli.backtest_cli.format_table`` (the bot's message is a template).
"""

from __future__ import annotations

from jobs.engine.backtest import BacktestResult
from jobs.regimes.episodes import BacktestRegimes
from jobs.regimes.types import State

SHORT = {State.ON: "ON", State.WATCH: "w", State.OFF: ".", State.UNKNOWN: "?"}
NAMES = ("macro", "heat", "reversal", "breadth", "composite")


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}"


def regime_lines(result: BacktestResult) -> list[str]:
    r = result.regimes
    if not isinstance(r, BacktestRegimes):
        return []
    head = f"{'#':>3} {'start':<10}  " + " ".join(f"{n[:9]:>9}" for n in NAMES) + "   (fire/peak/resolve; first day on)"
    lines = ["", "Scenarios per episode (ON on, w watch, . off, ? unknown)", head, "-" * len(head)]
    for i, (e, sc) in enumerate(zip(result.episodes, r.episodes, strict=True), start=1):
        cells = []
        for n in NAMES:
            resolve = SHORT[sc.at_resolve[n]] if sc.at_resolve is not None else "open"
            cells.append(f"{SHORT[sc.at_fire[n]]}/{SHORT[sc.at_peak[n]]}/{resolve}")
        lines.append(f"{i:>3} {e.start.isoformat():<10}  " + " ".join(f"{c:>9}" for c in cells))
        firsts = [f"{n} {d}" for n, d in sc.first_on.items() if d is not None]
        lines.append(f"{'':>3} {'':<10}  first on: {', '.join(firsts) if firsts else 'none'}")
    h = r.horizon
    lines.append("")
    for label, g in (("on", r.composite_on), ("not on", r.composite_not_on)):
        rate = "-" if g.hit_rate is None else f"{g.hit_rate:.0f}%"
        lines.append(
            f"Composite {label} at firing: {g.episodes} episode(s); spread lower {h} months later in {g.hits} of "
            f"{g.evaluated} ({rate}); median change {_f(g.median_spread_change)} pts"
        )
    lines += [f"Note: {n}" for n in r.notes]
    return lines
