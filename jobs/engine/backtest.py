"""Backtest of the alert rules: every past episode they would have fired, and what followed.

The episodes come from ``jobs.engine.rules.replay`` — the very code the live job runs — fed with the stored
daily spread and percentile. For each episode:

* start = the FIRE day; end = the RESOLVE day (None while still open at the end of the data);
* peak = the widest spread from start to end inclusive (as the rules track it);
* trading days = days the alert was on: start up to, not including, the resolve day (open: up to and
  including the last day);
* forward figures at +1, +3, +6 calendar months from the start: the last trading day on or before
  start + N months (None when that date is past the data), the change of the spread since the start,
  and the return of an equal-weight, buy-and-hold basket of the top five at firing minus that of the
  bottom five (both taken from the firing day's ranking), from closes of the same source. An index
  that stops being published (Shenwan reclassifications: 采掘 801020's last close is 2021-12-10) stays in
  its basket at its last close, carried forward: its return is frozen from then on, nothing is sold or
  replaced. Such a figure is flagged: ``Forward.carried`` names the members whose close was carried.

Summary: number of episodes, hit rate of "spread lower 3 months later" among the episodes that have a
3-month figure, median forward values.

Pure functions take data and return typed results; ``load_backtest`` is the thin loader over the Store.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Protocol

import numpy as np
import pandas as pd

from jobs.engine.rules import Kind, Observation, RuleParams, replay
from jobs.market.industry_names import display_name
from jobs.model.figures import Snapshot
from jobs.store.datastore import Store


class RegimeAttachment(Protocol):
    """The scenarios per episode that :func:`jobs.regimes.episodes.with_regimes` attaches (the regimes sit
    above the engine, so the engine knows them only by this shape)."""

    @property
    def episodes(self) -> Sequence[Any]: ...  # aligned with the backtest's episodes; each has ``to_json()``

    def to_json(self) -> dict[str, Any]: ...


HORIZONS: tuple[int, ...] = (1, 3, 6)
HIT_HORIZON = 3


@dataclass(frozen=True)
class Basket:
    """The top and bottom K at firing (codes, and names as of that day for display)."""

    top: tuple[str, ...]
    bottom: tuple[str, ...]
    top_names: tuple[str, ...] = ()
    bottom_names: tuple[str, ...] = ()
    # the names an English reader sees (the source's own English name, else a known one, else the name)
    top_en: tuple[str, ...] = ()
    bottom_en: tuple[str, ...] = ()

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> Basket:
        return cls(
            top=tuple(g.code for g in snap.top),
            bottom=tuple(g.code for g in snap.bottom),
            top_names=tuple(g.name for g in snap.top),
            bottom_names=tuple(g.name for g in snap.bottom),
            top_en=tuple(display_name(g.name, g.code, "en", g.name_en) for g in snap.top),
            bottom_en=tuple(display_name(g.name, g.code, "en", g.name_en) for g in snap.bottom),
        )

    def english(self, side: str) -> tuple[str, ...]:
        """The English names of the ``top`` or ``bottom`` basket (as of firing)."""
        given = self.top_en if side == "top" else self.bottom_en
        if given:
            return given
        codes, names = (self.top, self.top_names) if side == "top" else (self.bottom, self.bottom_names)
        return tuple(display_name(n, c, "en") for n, c in zip(names or codes, codes, strict=False))


@dataclass(frozen=True)
class EpisodeSpan:
    """An episode as the rules saw it, before the forward figures."""

    start: date
    end: date | None
    peak_day: date
    peak_spread: float
    trading_days: int
    spread_at_fire: float
    percentile_at_fire: float
    tier_at_fire: int


@dataclass(frozen=True)
class Forward:
    months: int
    target: date  # start + months
    day: date | None  # the last trading day on or before target; None when target is past the data
    spread: float | None
    spread_change: float | None  # percent points since the start
    top_return: float | None  # percent
    bottom_return: float | None  # percent
    relative_return: float | None  # top minus bottom, percent points
    # basket members no longer published by ``day``: their return stops at their last close
    carried: tuple[str, ...] = ()


@dataclass(frozen=True)
class Episode:
    span: EpisodeSpan
    basket: Basket
    forwards: tuple[Forward, ...]

    # the span's fields, flat, for templates and tables
    @property
    def start(self) -> date:
        return self.span.start

    @property
    def end(self) -> date | None:
        return self.span.end

    @property
    def open(self) -> bool:
        return self.span.end is None

    @property
    def peak_day(self) -> date:
        return self.span.peak_day

    @property
    def peak_spread(self) -> float:
        return self.span.peak_spread

    @property
    def trading_days(self) -> int:
        return self.span.trading_days

    @property
    def spread_at_fire(self) -> float:
        return self.span.spread_at_fire

    @property
    def percentile_at_fire(self) -> float:
        return self.span.percentile_at_fire

    def forward(self, months: int) -> Forward | None:
        return next((f for f in self.forwards if f.months == months), None)


@dataclass(frozen=True)
class Summary:
    episodes: int
    open_episodes: int
    hits: int  # episodes whose spread was lower HIT_HORIZON months later
    evaluated: int  # episodes that have a HIT_HORIZON-month figure
    hit_horizon: int
    median_trading_days: float | None
    median_spread_change: Mapping[int, float | None] = field(default_factory=dict)
    median_relative_return: Mapping[int, float | None] = field(default_factory=dict)

    @property
    def hit_rate(self) -> float | None:
        """Percent of the evaluated episodes; None when none can be evaluated yet."""
        return None if self.evaluated == 0 else self.hits / self.evaluated * 100.0


@dataclass(frozen=True)
class BacktestResult:
    params: RuleParams
    first_day: date | None  # first and last day the rules were run on
    last_day: date | None
    data_end: date | None  # last day of the data forward figures could use
    horizons: tuple[int, ...]
    episodes: tuple[Episode, ...]
    summary: Summary
    regimes: RegimeAttachment | None = None  # the scenarios per episode (``jobs.regimes.episodes``)
    # the source restated closes from this day on: the replay runs on the revised history, so its episodes
    # from then on may differ from the alerts sent at the time
    revised_from: date | None = None

    def scenarios(self, episode: Episode) -> Any:
        if self.regimes is None:
            return None
        return self.regimes.episodes[self.episodes.index(episode)]

    def recent(self, n: int) -> tuple[Episode, ...]:
        return self.episodes[-n:] if n > 0 else ()

    def to_json(self) -> dict[str, Any]:
        def d(x: date | None) -> str | None:
            return None if x is None else x.isoformat()

        def r(x: float | None, digits: int = 4) -> float | None:
            return None if x is None else round(x, digits)

        s = self.summary
        out: dict[str, Any] = {
            "params": {
                "enter": self.params.enter,
                "high": self.params.high,
                "resolve": self.params.resolve,
                "new_high_tier": self.params.new_high_tier,
                "consecutive_days": self.params.consecutive_days,
            },
            "first_day": d(self.first_day),
            "last_day": d(self.last_day),
            "revised_from": d(self.revised_from),
            "horizons": list(self.horizons),
            "summary": {
                "episodes": s.episodes,
                "open_episodes": s.open_episodes,
                "hit_horizon_months": s.hit_horizon,
                "hits": s.hits,
                "evaluated": s.evaluated,
                "hit_rate": r(s.hit_rate, 2),
                "median_trading_days": s.median_trading_days,
                "median_spread_change": {str(m): r(v) for m, v in s.median_spread_change.items()},
                "median_relative_return": {str(m): r(v) for m, v in s.median_relative_return.items()},
            },
            "episodes": [
                {
                    "start": d(e.start),
                    "end": d(e.end),
                    "peak_day": d(e.peak_day),
                    "peak_spread": r(e.peak_spread),
                    "trading_days": e.trading_days,
                    "spread_at_fire": r(e.spread_at_fire),
                    "percentile_at_fire": r(e.percentile_at_fire, 2),
                    "top": list(e.basket.top),
                    "bottom": list(e.basket.bottom),
                    "top_names": list(e.basket.top_names),
                    "bottom_names": list(e.basket.bottom_names),
                    "forward": {
                        str(f.months): {
                            "day": d(f.day),
                            "spread_change": r(f.spread_change),
                            "top_return": r(f.top_return),
                            "bottom_return": r(f.bottom_return),
                            "relative_return": r(f.relative_return),
                            "carried_forward": list(f.carried),
                        }
                        for f in e.forwards
                    },
                }
                for e in self.episodes
            ],
        }
        if self.regimes is not None:
            out["regimes"] = self.regimes.to_json()
            for e, sc in zip(out["episodes"], self.regimes.episodes, strict=True):
                e["scenarios"] = sc.to_json()
        return out


# -- pure steps --------------------------------------------------------------------------------------


def observations(series: pd.DataFrame) -> list[Observation]:
    """One Observation per stored day.

    ``new_high`` is "the widest spread of the whole history so far" (the snapshot's history rank 1:
    strictly wider than every earlier day), so ``series`` must start at the metric's history start.
    """
    spread = series["spread"].to_numpy(dtype=float)
    percentile = series["percentile"].to_numpy(dtype=float)
    previous_max = np.concatenate(([-np.inf], np.maximum.accumulate(spread)[:-1])) if len(spread) else spread
    new_high = spread > previous_max
    days = [ts.date() for ts in pd.DatetimeIndex(series.index)]
    return [
        Observation(day=d, spread=float(s), percentile=float(p), new_high=bool(h), history_days=i + 1)
        for i, (d, s, p, h) in enumerate(zip(days, spread, percentile, new_high, strict=True))
    ]


def replay_episodes(
    series: pd.DataFrame, params: RuleParams, start: date | None = None, end: date | None = None
) -> list[EpisodeSpan]:
    """Run the live rules from ``start`` to ``end`` (inclusive) over the stored series."""
    obs = observations(series)
    window = [o for o in obs if (start is None or o.day >= start) and (end is None or o.day <= end)]
    if not window:
        return []
    final, transitions = replay(params, window)
    days = [o.day for o in window]
    position = {d: i for i, d in enumerate(days)}
    spans: list[EpisodeSpan] = []
    fire: tuple[date, float, float, int] | None = None
    for t in transitions:
        if t.kind is Kind.FIRE:
            fire = (t.day, t.observation.spread, t.observation.percentile, t.tier)
        elif t.kind is Kind.RESOLVE and fire is not None:
            spans.append(
                EpisodeSpan(
                    start=fire[0],
                    end=t.day,
                    peak_day=t.peak_day,
                    peak_spread=t.peak_spread,
                    trading_days=position[t.day] - position[fire[0]],
                    spread_at_fire=fire[1],
                    percentile_at_fire=fire[2],
                    tier_at_fire=fire[3],
                )
            )
            fire = None
    if fire is not None and final.firing:
        assert final.peak_day is not None and final.peak_spread is not None
        spans.append(
            EpisodeSpan(
                start=fire[0],
                end=None,
                peak_day=final.peak_day,
                peak_spread=final.peak_spread,
                trading_days=len(days) - position[fire[0]],
                spread_at_fire=fire[1],
                percentile_at_fire=fire[2],
                tier_at_fire=fire[3],
            )
        )
    return spans


def _basket_return(filled: pd.DataFrame, codes: Sequence[str], at: pd.Timestamp, later: pd.Timestamp) -> float | None:
    """Equal-weight buy-and-hold return in percent; a code without a close at ``at`` is left out."""
    rets = []
    for code in codes:
        if code not in filled.columns:
            continue
        c0, c1 = filled.at[at, code], filled.at[later, code]
        if pd.notna(c0) and pd.notna(c1) and c0 > 0:
            rets.append(c1 / c0 - 1.0)
    return float(np.mean(rets) * 100.0) if rets else None


def _carried(
    closes: pd.DataFrame, filled: pd.DataFrame, codes: Sequence[str], at: pd.Timestamp, later: pd.Timestamp
) -> tuple[str, ...]:
    """Members counted at a close older than ``later``: published at firing, no close on ``later``."""
    out = []
    for code in codes:
        if code not in filled.columns or pd.isna(filled.at[at, code]):
            continue
        if later not in closes.index or pd.isna(closes.at[later, code]):
            out.append(code)
    return tuple(out)


def forward_figures(
    span: EpisodeSpan,
    series: pd.DataFrame,
    closes: pd.DataFrame,
    basket: Basket,
    horizons: Iterable[int] = HORIZONS,
    filled: pd.DataFrame | None = None,
) -> tuple[Forward, ...]:
    """The +N-month figures of one episode. ``filled`` = ``closes.ffill()`` when computed once by the caller."""
    index = pd.DatetimeIndex(series.index)
    spread = series["spread"]
    at = pd.Timestamp(span.start)
    if filled is None:
        filled = closes.sort_index().ffill()
    close_at = filled.index.searchsorted(at, side="right") - 1
    out = []
    for months in horizons:
        target = at + pd.DateOffset(months=months)
        pos = int(index.searchsorted(target, side="right")) - 1
        if len(index) == 0 or target > index[-1] or pos < 0:
            out.append(Forward(months, target.date(), None, None, None, None, None, None))
            continue
        day = index[pos]
        s = float(spread.iloc[pos])
        top = bottom = rel = None
        carried: tuple[str, ...] = ()
        cpos = int(filled.index.searchsorted(day, side="right")) - 1
        if close_at >= 0 and cpos >= 0 and filled.index[close_at] == at:
            later = filled.index[cpos]
            top = _basket_return(filled, basket.top, at, later)
            bottom = _basket_return(filled, basket.bottom, at, later)
            rel = None if top is None or bottom is None else top - bottom
            carried = _carried(closes, filled, (*basket.top, *basket.bottom), at, later)
        out.append(Forward(months, target.date(), day.date(), s, s - span.spread_at_fire, top, bottom, rel, carried))
    return tuple(out)


def _median(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(statistics.median(kept)) if kept else None


def summarize(episodes: Sequence[Episode], horizons: Sequence[int] = HORIZONS) -> Summary:
    three = [e.forward(HIT_HORIZON) for e in episodes]
    evaluated = [f for f in three if f is not None and f.spread_change is not None]
    return Summary(
        episodes=len(episodes),
        open_episodes=sum(1 for e in episodes if e.open),
        hits=sum(1 for f in evaluated if f.spread_change is not None and f.spread_change < 0),
        evaluated=len(evaluated),
        hit_horizon=HIT_HORIZON,
        median_trading_days=_median(float(e.trading_days) for e in episodes),
        median_spread_change={
            m: _median(f.spread_change if (f := e.forward(m)) else None for e in episodes) for m in horizons
        },
        median_relative_return={
            m: _median(f.relative_return if (f := e.forward(m)) else None for e in episodes) for m in horizons
        },
    )


def run_backtest(
    series: pd.DataFrame,
    closes: pd.DataFrame,
    baskets: Mapping[date, Basket],
    params: RuleParams,
    start: date | None = None,
    end: date | None = None,
    horizons: Sequence[int] = HORIZONS,
    spans: Sequence[EpisodeSpan] | None = None,
) -> BacktestResult:
    """The whole backtest over data already truncated at ``end`` (the data is "today" at ``end``).

    ``baskets`` must hold the firing day of every episode (``replay_episodes`` says which days).
    """
    if end is not None:
        series = series.loc[: pd.Timestamp(end)]
        closes = closes.loc[: pd.Timestamp(end)]
    if spans is None:
        spans = replay_episodes(series, params, start, end)
    filled = closes.sort_index().ffill()
    episodes = []
    for span in spans:
        if span.start not in baskets:
            raise ValueError(f"no top/bottom basket for the firing day {span.start}")
        basket = baskets[span.start]
        episodes.append(Episode(span, basket, forward_figures(span, series, closes, basket, horizons, filled)))
    days = [ts.date() for ts in pd.DatetimeIndex(series.index)]
    run_days = [d for d in days if start is None or d >= start]
    return BacktestResult(
        params=params,
        first_day=run_days[0] if run_days else None,
        last_day=run_days[-1] if run_days else None,
        data_end=days[-1] if days else None,
        horizons=tuple(horizons),
        episodes=tuple(episodes),
        summary=summarize(episodes, horizons),
    )


# -- loader ------------------------------------------------------------------------------------------


def load_backtest(
    store: Store,
    source: str,
    params: RuleParams,
    start: date | None = None,
    end: date | None = None,
    horizons: Sequence[int] = HORIZONS,
) -> BacktestResult:
    """Read the stored spread series, the firing days' snapshots and the closes, then backtest."""
    series = store.spread_series(source, end=end)
    spans = replay_episodes(series, params, start, end)
    baskets: dict[date, Basket] = {}
    for span in spans:
        snap = store.snapshot(source, span.start)
        if snap is None or snap.as_of != span.start:
            raise ValueError(f"no stored snapshot for the firing day {span.start}")
        baskets[span.start] = Basket.from_snapshot(snap)
    closes = store.load_prices(source) if spans else pd.DataFrame(dtype=float)
    result = run_backtest(series, closes, baskets, params, start, end, horizons, spans=spans)
    revised = store.revision_span(source)
    if revised is None or result.last_day is None or revised.first_day > result.last_day:
        return result
    return replace(result, revised_from=revised.first_day)
