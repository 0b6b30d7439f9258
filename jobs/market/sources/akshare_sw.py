"""Live source: Shenwan 2021 level-1 industry indices through akshare's ``index_hist_sw``.

One call per index returns its whole daily history; the first fetch keeps all of it (backfill), later
ones keep the dates after the last stored one and the last ``data.revision_window_days`` stored ones,
which the pipeline compares with the store to take in restated closes. If any index fails after its retries, the whole
batch fails: a cross-section with a missing industry would silently change the top/bottom five.
"""

from __future__ import annotations

import logging
from datetime import date

import pandas as pd

from jobs.config.settings import DataSettings
from jobs.market.sources.base import AKSHARE_SW_LABEL, SW2021_L1, FetchError, PriceBatch, Reread
from jobs.market.sources.upstream import akshare, call_upstream

log = logging.getLogger(__name__)


class AkshareSwSource:
    name = "akshare"
    label = AKSHARE_SW_LABEL
    synthetic = False

    def __init__(self, settings: DataSettings, industries: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.industries = dict(industries or SW2021_L1)

    def _one(self, code: str) -> pd.DataFrame:
        ak = akshare()
        df = call_upstream(
            f"index_hist_sw({code})",
            ak.index_hist_sw,
            symbol=code,
            period="day",
            timeout_s=self.settings.fetch_timeout_s,
            retries=self.settings.fetch_retries,
            backoff_s=self.settings.backoff_s,
        )
        if not isinstance(df, pd.DataFrame) or df.empty:
            raise FetchError(f"index_hist_sw({code}): empty response")
        for col in ("日期", "收盘"):
            if col not in df.columns:
                raise FetchError(f"index_hist_sw({code}): response lacks column {col!r}")
        if "代码" in df.columns:
            got = {str(c) for c in df["代码"].dropna().unique()}
            if got and got != {code}:
                raise FetchError(f"index_hist_sw({code}): response is for {sorted(got)}")
        dates = pd.to_datetime(df["日期"], errors="coerce")
        return pd.DataFrame(
            {
                "date": dates.dt.date,
                "code": code,
                "name": self.industries[code],
                "close": pd.to_numeric(df["收盘"], errors="coerce"),
                # 成交额 is in 亿元 upstream
                "amount": pd.to_numeric(df["成交额"], errors="coerce") if "成交额" in df.columns else float("nan"),
            }
        )

    def reread(self) -> Reread:
        """Shenwan corrects recent closes now and then: the last ``data.revision_window_days`` again."""
        return Reread(days=self.settings.revision_window_days)

    def fetch(self, since: date | None, until: date) -> PriceBatch:
        parts = []
        later: list[date] = []
        for code in self.industries:
            part = self._one(code)
            if part["date"].isna().any():
                raise FetchError(f"index_hist_sw({code}): unreadable dates in response")
            mask = part["date"] <= until
            later.extend(part.loc[~mask, "date"])
            if since is not None:
                mask &= part["date"] > since
            parts.append(part.loc[mask])
        rows = pd.concat(parts, ignore_index=True).sort_values(["date", "code"], ignore_index=True)
        return PriceBatch(
            rows=rows,
            declared=dict(self.industries),
            complete=True,
            after_until=len(later),
            first_after_until=min(later) if later else None,
        )
