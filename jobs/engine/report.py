"""What `/spread`, `/top5` and `spreadwatch report` show, assembled from the store (no recomputation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.config.settings import Settings
from jobs.engine.pipeline import DataStatus
from jobs.model.figures import IndustryGain, Snapshot
from jobs.store.datastore import Store


@dataclass(frozen=True)
class SpreadReport:
    snapshot: Snapshot
    status: DataStatus
    change_1w: float | None  # spread change in percent points vs the last day on/before D - 7 days
    change_1m: float | None  # ... vs D - 1 month
    history_start: date  # the first day of the percentile's history (configured start or later)
    requested_as_of: date | None  # the --as-of asked for (the snapshot may be of an earlier day)

    @property
    def stale(self) -> bool:
        """True when the numbers are not the latest the market has produced."""
        if self.requested_as_of is not None:
            return self.snapshot.as_of < self.status.expected_date and self.requested_as_of >= self.status.expected_date
        return self.status.stale

    def to_json(self) -> dict[str, Any]:
        s = self.snapshot

        def item(g: IndustryGain) -> dict[str, Any]:
            return {"code": g.code, "name": g.name, "gain": round(g.gain, 4), "rank": g.rank}

        return {
            "as_of": s.as_of.isoformat(),
            "spread": round(s.spread, 4),
            "percentile": round(s.percentile, 2),
            "top": [item(g) for g in s.top],
            "bottom": [item(g) for g in s.bottom],
            "top_avg": round(s.top_avg, 4),
            "bottom_avg": round(s.bottom_avg, 4),
            "base_date": s.base_date.isoformat(),
            "history_days": s.history_days,
            "history_rank": s.history_rank,
            "history_start": self.history_start.isoformat(),
            "change_1w": None if self.change_1w is None else round(self.change_1w, 4),
            "change_1m": None if self.change_1m is None else round(self.change_1m, 4),
            "window": s.window,
            "k": s.k,
            "source": self.status.source,
            "source_label": self.status.source_label,
            "synthetic": self.status.synthetic,
            "stale": self.stale,
            "last_data_date": self.status.last_data_date.isoformat() if self.status.last_data_date else None,
            "incomplete": None
            if self.status.incomplete is None
            else {
                "date": self.status.incomplete.day.isoformat(),
                "missing": [{"code": c, "name": n} for c, n in self.status.incomplete.missing],
            },
        }


def _change(series: pd.Series, day: date, before: date) -> float | None:
    past = series.loc[: pd.Timestamp(before)]
    if past.empty:
        return None
    return float(series.loc[pd.Timestamp(day)] - past.iloc[-1])


def build_report(
    store: Store, status: DataStatus, history_start: date, as_of: date | None = None
) -> SpreadReport | None:
    snap = store.snapshot(status.source, as_of)
    if snap is None:
        return None
    day = snap.as_of
    series = store.spread_series(status.source, start=day - timedelta(days=40), end=day)["spread"]
    month_ago = (pd.Timestamp(day) - pd.DateOffset(months=1)).date()
    # "P95 since 2010" must not be said of a history that starts in 2015 (CITIC data, a short CSV)
    row = (
        store.connect()
        .execute(
            "SELECT MIN(date) FROM snapshots WHERE source = ? AND date >= ?", (status.source, history_start.isoformat())
        )
        .fetchone()
    )
    if row and row[0]:
        history_start = max(history_start, date.fromisoformat(row[0]))
    return SpreadReport(
        snapshot=snap,
        status=status,
        change_1w=_change(series, day, day - timedelta(days=7)),
        change_1m=_change(series, day, month_ago),
        history_start=history_start,
        requested_as_of=as_of,
    )


@dataclass(frozen=True)
class NoDataReason:
    """Why there is no snapshot to show: ``code`` picks the sentence, the other fields fill it."""

    code: str  # no_file | fetch_failed | no_rows | too_few_industries | history_after_data | history_too_short
    path: str | None = None
    error: str | None = None
    until: date | None = None
    count: int | None = None
    needed: int | None = None
    history_start: date | None = None
    first: date | None = None
    last: date | None = None
    window: str | None = None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, a loop of links: no file there either
        return False


def explain_no_data(
    store: Store, settings: Settings, source: str, refresh_error: str | None, until: date
) -> NoDataReason:
    """The first thing that stops a snapshot from existing, from the source's file to the metric's needs."""
    csv = settings.csv_path
    closes = store.load_prices(source)
    if closes.empty:
        if csv is not None and not _is_file(csv):
            return NoDataReason("no_file", path=str(csv))
        if refresh_error is not None:
            return NoDataReason("fetch_failed", error=refresh_error)
        return NoDataReason("no_rows", until=until)
    first, last = closes.index[0].date(), closes.index[-1].date()
    m = settings.metric
    most = int(closes.notna().sum(axis=1).max())
    if most < 2 * m.top_k:
        return NoDataReason("too_few_industries", count=most, needed=2 * m.top_k)
    if m.history_start > last:
        return NoDataReason("history_after_data", history_start=m.history_start, last=last)
    return NoDataReason("history_too_short", first=first, last=last, window=m.window)
