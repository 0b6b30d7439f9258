"""Data sources behind one interface (see ``base.Source``)."""

from __future__ import annotations

from jobs.config.settings import DataSettings
from jobs.market.calendar import TradingCalendar
from jobs.market.sources.base import FetchError, PriceBatch, Source
from jobs.market.sources.csv_source import CsvSource
from jobs.market.sources.sample import SampleSource

__all__ = ["FetchError", "PriceBatch", "Source", "make_source"]


def make_source(settings: DataSettings, calendar: TradingCalendar | None = None) -> Source:
    spec = settings.source
    if spec == "sample":
        return SampleSource(calendar)
    if spec == "akshare":
        # the live source loads only when chosen: it brings tenacity and the akshare wrapper, which start-up
        # with a csv or the sample never needs
        from jobs.market.sources.akshare_sw import AkshareSwSource

        return AkshareSwSource(settings)
    if spec.startswith("csv:"):
        return CsvSource(spec[4:])
    raise ValueError(f"unknown source {spec!r}")
