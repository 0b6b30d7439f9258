"""Data sources behind one interface (see ``base.Source``)."""

from __future__ import annotations

from jobs.config.settings import DataSettings
from jobs.market.calendar import TradingCalendar
from jobs.market.sources.base import FetchError, PriceBatch, Source

__all__ = ["FetchError", "PriceBatch", "Source", "make_source"]


def make_source(settings: DataSettings, calendar: TradingCalendar | None = None) -> Source:
    spec = settings.source
    if spec == "sample":
        from jobs.market.sources.sample import SampleSource

        return SampleSource(calendar)
    if spec == "akshare":
        from jobs.market.sources.akshare_sw import AkshareSwSource

        return AkshareSwSource(settings)
    if spec.startswith("csv:"):
        from jobs.market.sources.csv_source import CsvSource

        return CsvSource(spec[4:])
    raise ValueError(f"unknown source {spec!r}")
