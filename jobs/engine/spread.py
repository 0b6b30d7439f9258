"""The differentiation metric, pure: closes in, spread history and snapshots out.

Definitions (reproduce the 2025-02-16 strategy report on Shenwan level-1 data):

* gain of an industry on trading day D = close(D) / close(B) - 1, where B is the first row of the data
  strictly after D minus the window (``6M`` = six calendar months; ``120D`` = 120 rows earlier);
* a day is used only when it is complete: every industry expected on it has a close (see
  ``absent_closes``); an incomplete day is left out of the spread, the percentile and the base dates;
* ranked on D: the industries with a close on both B and D; a spread needs at least 2K of them;
* spread = mean gain of the top K - mean gain of the bottom K;
* percentile = share of days from ``history_start`` up to and including D whose spread is <= D's, 0-100.

All numbers leaving this module are in percent points. Nothing here reads the clock, a file or the
network: data and ``as_of`` come in as arguments.
"""

from __future__ import annotations

import bisect
import math
from datetime import date

import numpy as np
import pandas as pd

from jobs.model.figures import NameBook, SpreadHistory, Window


def wide_closes(long: pd.DataFrame) -> pd.DataFrame:
    """Long ``date, code, close`` rows to a dates x codes frame (DatetimeIndex, ascending)."""
    wide = long.pivot(index="date", columns="code", values="close")
    wide.index = pd.DatetimeIndex(pd.to_datetime(wide.index))
    wide.columns = wide.columns.astype(str)
    return wide.sort_index().astype(float)


# An industry whose closes stop is expected on every later day until the others have gone on this many
# trading days without it; then it is discontinued from the day after its last close (Shenwan retired
# seven level-1 codes in 2014 and 2021: none ever came back).
DISCONTINUED_AFTER = 5


def absent_closes(closes: pd.DataFrame, discontinued_after: int = DISCONTINUED_AFTER) -> np.ndarray:
    """Dates x codes mask of closes that should be there and are not.

    An industry is expected on every day from its first close to its last, and after its last close
    until the data has gone on ``discontinued_after`` days without it. A day with any True is
    incomplete: using it would rank fewer industries than exist (a missing leader shrinks the spread).
    """
    had = closes.notna().to_numpy()
    n = had.shape[0]
    if n == 0:
        return np.zeros_like(had)
    rows = np.arange(n)[:, None]
    present = had.any(axis=0)
    first = np.where(present, had.argmax(axis=0), n)
    last = np.where(present, n - 1 - had[::-1].argmax(axis=0), -1)
    in_span = (rows >= first) & (rows <= last)
    pending = present & (rows > last) & ((n - 1 - last) < discontinued_after)
    return (in_span | pending) & ~had


def incomplete_days(closes: pd.DataFrame, discontinued_after: int = DISCONTINUED_AFTER) -> dict[date, list[str]]:
    """Each incomplete day and the codes it lacks."""
    absent = absent_closes(closes, discontinued_after)
    codes = [str(c) for c in closes.columns]
    rows = np.flatnonzero(absent.any(axis=1))
    return {closes.index[i].date(): [codes[j] for j in np.flatnonzero(absent[i])] for i in rows}


def base_positions(dates: pd.DatetimeIndex, window: Window) -> np.ndarray:
    """Row position of B for every row; -1 where the data does not reach back far enough."""
    n = len(dates)
    if window.unit == "D":
        pos = np.arange(n) - window.count
        pos[pos < 0] = -1
        return pos
    shifted = dates - pd.DateOffset(months=window.count)
    pos = dates.searchsorted(shifted, side="right")
    # B is "the first trading day after D - window": only knowable when the data has a row on or
    # before D - window, otherwise the first row might not be that day.
    pos = np.where(pos >= 1, pos, -1)
    return np.asarray(pos, dtype=np.int64)


def compute_history(
    closes: pd.DataFrame,
    names: NameBook,
    window: Window | str = "6M",
    k: int = 5,
    history_start: date = date(2010, 1, 1),
    as_of: date | None = None,
) -> SpreadHistory:
    """Spread, percentile and top/bottom K for every trading day, vectorised over the whole history."""
    if isinstance(window, str):
        window = Window.parse(window)
    if as_of is not None:
        closes = closes.loc[: pd.Timestamp(as_of)]
    closes = closes.loc[:, closes.notna().any()] if not closes.empty else closes
    closes = closes.loc[~absent_closes(closes).any(axis=1)]
    dates = pd.DatetimeIndex(closes.index)
    values = closes.to_numpy(dtype=float, copy=True)
    n = values.shape[0]

    bpos = base_positions(dates, window)
    has_base = (bpos >= 0) & (bpos < np.arange(n))
    base_vals = np.full_like(values, np.nan)
    base_vals[has_base] = values[bpos[has_base]]
    with np.errstate(invalid="ignore", divide="ignore"):
        gains = (values / base_vals - 1.0) * 100.0

    ranked_count = np.sum(~np.isnan(gains), axis=1)
    order = np.argsort(gains, axis=1, kind="stable")  # NaN sorts last
    usable = ranked_count >= 2 * k
    rows = np.flatnonzero(usable & (dates >= pd.Timestamp(history_start)))

    top_cols = ranked_count[rows, None] - 1 - np.arange(k)[None, :]
    top_idx = np.take_along_axis(order[rows], top_cols, axis=1) if len(rows) else np.empty((0, k), int)
    bottom_idx = order[rows, :k] if len(rows) else np.empty((0, k), int)
    g = gains[rows]
    top_avg = np.take_along_axis(g, top_idx, axis=1).mean(axis=1) if len(rows) else np.empty(0)
    bottom_avg = np.take_along_axis(g, bottom_idx, axis=1).mean(axis=1) if len(rows) else np.empty(0)
    spread = top_avg - bottom_avg

    idx = dates[rows]
    s = pd.Series(spread, index=idx)
    # rank(method="max") counts the days whose spread is <= today's, among days up to today
    le_count = s.expanding().rank(method="max").to_numpy() if len(s) else np.empty(0)
    history_days = np.arange(1, len(s) + 1)
    ge_count = s.expanding().rank(method="max", ascending=False).to_numpy() if len(s) else np.empty(0)
    frame = pd.DataFrame(
        {
            "spread": spread,
            "percentile": le_count / history_days * 100.0,
            "top_avg": top_avg,
            "bottom_avg": bottom_avg,
            "n_ranked": ranked_count[rows],
            "history_days": history_days,
            "history_rank": ge_count.astype(int) if len(s) else np.empty(0, int),
        },
        index=idx,
    )
    frame.index.name = "date"
    gains_df = pd.DataFrame(gains[rows], index=idx, columns=closes.columns)
    base_dates = pd.Series(dates[bpos[rows]], index=idx)
    return SpreadHistory(
        frame=frame,
        gains=gains_df,
        base_dates=base_dates,
        top_idx=np.asarray(top_idx, dtype=np.int64),
        bottom_idx=np.asarray(bottom_idx, dtype=np.int64),
        names=names,
        window=window,
        k=k,
    )


def compute_snapshot_loop(
    closes: pd.DataFrame,
    names: NameBook,
    as_of: date,
    window: Window | str = "6M",
    k: int = 5,
    history_start: date = date(2010, 1, 1),
) -> tuple[float, float, list[tuple[str, float]], list[tuple[str, float]]]:
    """A deliberately plain per-day reference implementation (tests and the benchmark compare to it).

    Returns (spread, percentile, top [(code, gain)], bottom [(code, gain)]) for ``as_of``.
    """
    if isinstance(window, str):
        window = Window.parse(window)
    closes = closes.loc[: pd.Timestamp(as_of)]
    closes = closes.loc[~absent_closes(closes).any(axis=1)]
    dates = list(closes.index)
    codes = [str(c) for c in closes.columns]
    # plain Python rows: DataFrame.iat per cell would make this reference too slow to use in tests
    rows = closes.to_numpy(dtype=float).tolist()
    spreads: list[float] = []
    last: tuple[float, list[tuple[str, float]], list[tuple[str, float]]] | None = None
    for i, d in enumerate(dates):
        if window.unit == "D":
            b = i - window.count
            if b < 0:
                continue
        else:
            limit = d - pd.DateOffset(months=window.count)
            if dates[0] > limit:
                continue
            b = bisect.bisect_right(dates, limit)
            if b >= i:
                continue
        day_gains = []
        for code, c_d, c_b in zip(codes, rows[i], rows[b], strict=True):
            if math.isnan(c_d) or math.isnan(c_b):
                continue
            day_gains.append((code, (c_d / c_b - 1) * 100))
        if len(day_gains) < 2 * k or d < pd.Timestamp(history_start):
            continue
        day_gains.sort(key=lambda t: t[1])
        bottom = day_gains[:k]
        top = sorted(day_gains[-k:], key=lambda t: -t[1])
        s = sum(g for _, g in top) / k - sum(g for _, g in bottom) / k
        spreads.append(s)
        if d == dates[-1]:
            last = (s, top, bottom)
    if last is None:
        raise ValueError(f"no spread on {as_of}")
    today = spreads[-1]
    pct = sum(1 for x in spreads if x <= today) / len(spreads) * 100
    return last[0], pct, last[1], last[2]
