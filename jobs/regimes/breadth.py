"""Scenario 4, theme breadth: how far a theme (a concept board) has spread through the market.

Each configured board is snapshotted daily (constituent count, board market cap, total A-share market
cap), so its history builds up from the first fetch. Its share of the whole market is compared with
the board's thresholds; the change over one week and one month (last snapshot on or before as_of - 7
days / - 1 calendar month) is evidence. The scenario takes the strongest state over the boards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from jobs.config.regime_settings import BoardSettings
from jobs.regimes.types import Evidence, Freshness, Scenario, ScenarioResult, State, strongest, unknown


@dataclass(frozen=True)
class BoardPoint:
    board: str
    day: date
    constituents: int
    board_cap: float  # yuan
    market_cap: float  # yuan, whole A-share market

    @property
    def share(self) -> float:
        return 100.0 * self.board_cap / self.market_cap


def _on_or_before(points: Sequence[BoardPoint], day: date) -> BoardPoint | None:
    earlier = [p for p in points if p.day <= day]
    return earlier[-1] if earlier else None


def check_board(
    board: BoardSettings, points: Sequence[BoardPoint], as_of: date, max_age_days: int = 7, error: str | None = None
) -> ScenarioResult:
    pts = sorted((p for p in points if p.board == board.name and p.day <= as_of), key=lambda p: p.day)
    fresh = Freshness(f"board {board.name}", pts[-1].day if pts else None, max_age_days, error)
    if fresh.stale(as_of):
        return unknown(Scenario.BREADTH, fresh)
    now = pts[-1]
    evidence = [
        Evidence("board_share", now.share, now.day, "pct", board.name),
        Evidence("board_count", now.constituents, now.day, "count", board.name),
    ]
    month_ago = (pd.Timestamp(now.day) - pd.DateOffset(months=1)).date()
    for key, then_day in (("1w", now.day - timedelta(days=7)), ("1m", month_ago)):
        then = _on_or_before(pts, then_day)
        if then is not None:
            evidence.append(Evidence(f"share_change_{key}", now.share - then.share, then.day, "points", board.name))
            evidence.append(
                Evidence(f"count_change_{key}", now.constituents - then.constituents, then.day, "count", board.name)
            )
    text = f"{board.name}: {now.constituents} stocks, {now.share:.1f}% of A-share market cap"
    if now.share >= board.on_share_pct:
        state, code = State.ON, "board_wide"
        text += f" (>= {board.on_share_pct:g}%)"
    elif now.share >= board.watch_share_pct:
        state, code = State.WATCH, "board_spreading"
        text += f" (>= {board.watch_share_pct:g}%)"
    else:
        state, code = State.OFF, "quiet"
    return ScenarioResult(Scenario.BREADTH, state, text, code, now.day, tuple(evidence), inputs=(fresh,))


def check_breadth(
    boards: Sequence[BoardSettings],
    points: Sequence[BoardPoint],
    as_of: date,
    max_age_days: int = 7,
    errors: dict[str, str] | None = None,
) -> ScenarioResult:
    if not boards:
        return ScenarioResult(Scenario.BREADTH, State.OFF, "no concept boards configured", "no_boards", None)
    parts = [check_board(b, points, as_of, max_age_days, (errors or {}).get(b.name)) for b in boards]
    state = strongest([p.state for p in parts])
    lead = next(p for p in parts if p.state == state)
    dates = [p.as_of for p in parts if p.as_of is not None]
    stale = sorted((p for p in parts if p.stale_since is not None), key=lambda p: p.stale_since or date.min)
    newest = max(dates) if dates else None
    stale_since = None
    if state == State.UNKNOWN and stale:
        # the board that went stale first: since when, and its newest data beside it
        newest, stale_since = stale[0].as_of, stale[0].stale_since
    return ScenarioResult(
        Scenario.BREADTH,
        state,
        "; ".join(p.reason for p in parts),
        lead.code,
        newest,
        tuple(e for p in parts for e in p.evidence),
        stale_since=stale_since,
        inputs=tuple(f for p in parts for f in p.inputs),
    )
