"""The bundled SYNTHETIC sample: deterministic made-up closes for the 31 Shenwan 2021 industries.

It exists so that a new user can run the whole service and its tests with no network. The numbers are
random walks with regime-switching industry drifts, not market data; every output that uses them says
so. Draws are made per calendar year from a fixed seed, so a date's value never depends on "today".
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from jobs.market.calendar import TradingCalendar
from jobs.market.sources.base import SAMPLE_LABEL, SW2021_L1, PriceBatch

START = date(2009, 1, 5)
SEED = 20090105


def _year_draws(year: int, n_days: int, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([SEED, year])
    # two half-year regimes of industry drift per year, then daily noise around it
    drift = rng.normal(0.0, 0.22, size=(2, n_codes)) / 250.0
    market = rng.normal(0.0001, 0.012, size=n_days)
    noise = rng.normal(0.0, 0.009, size=(n_days, n_codes))
    half = np.where(np.arange(n_days) < n_days // 2, 0, 1)
    log_ret = market[:, None] + drift[half] + noise
    turnover = rng.lognormal(0.0, 0.25, size=(n_days, n_codes))
    return log_ret, turnover


def synthetic_frame(until: date, calendar: TradingCalendar | None = None) -> pd.DataFrame:
    """Long rows for every trading day from 2009-01-05 to ``until``."""
    cal = calendar or TradingCalendar.default()
    codes = list(SW2021_L1)
    n_codes = len(codes)
    level = np.linspace(1000.0, 4000.0, n_codes)
    base_amount = np.linspace(40.0, 400.0, n_codes)
    frames = []
    for year in range(START.year, until.year + 1):
        days = pd.bdate_range(date(year, 1, 1), date(year, 12, 31))
        log_ret, turnover = _year_draws(year, len(days), n_codes)
        closes = level * np.exp(np.cumsum(log_ret, axis=0))
        level = closes[-1]
        keep = np.array([START <= d.date() <= until and cal.is_trading_day(d.date()) for d in days])
        if not keep.any():
            continue
        sel_days = [d.date() for d in days[keep]]
        frames.append(
            pd.DataFrame(
                {
                    "date": np.repeat(sel_days, n_codes),
                    "code": codes * len(sel_days),
                    "name": [SW2021_L1[c] for c in codes] * len(sel_days),
                    "close": np.round(closes[keep], 4).ravel(),
                    "amount": np.round(base_amount * turnover[keep], 2).ravel(),
                }
            )
        )
    if not frames:  # ``until`` before the sample's first day
        return pd.DataFrame(columns=["date", "code", "name", "close", "amount"])
    return pd.concat(frames, ignore_index=True)


class SampleSource:
    name = "sample"
    label = SAMPLE_LABEL
    synthetic = True

    def __init__(self, calendar: TradingCalendar | None = None) -> None:
        self._calendar = calendar

    def fetch(self, since: date | None, until: date) -> PriceBatch:
        rows = synthetic_frame(until, self._calendar)
        if since is not None:
            rows = rows.loc[rows["date"] > since].reset_index(drop=True)
        return PriceBatch(rows=rows, declared=dict(SW2021_L1), complete=True)
