"""Data sources behind one interface (see ``base.Source``)."""

from __future__ import annotations

from jobs.calendar import TradingCalendar
from jobs.settings import DataSettings
from jobs.sources.base import FetchError, PriceBatch, Source

__all__ = ["FetchError", "PriceBatch", "Source", "make_source"]


def make_source(settings: DataSettings, calendar: TradingCalendar | None = None) -> Source:
    spec = settings.source
    if spec == "sample":
        from jobs.sources.sample import SampleSource

        return SampleSource(calendar)
    if spec == "akshare":
        from jobs.sources.akshare_sw import AkshareSwSource

        return AkshareSwSource(settings)
    if spec.startswith("csv:"):
        from jobs.sources.csv_source import CsvSource

        return CsvSource(spec[4:])
    raise ValueError(f"unknown source {spec!r}")
