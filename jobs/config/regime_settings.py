"""Typed settings of the regime scenarios (the ``regimes:`` section of the config).

Every field has a default so that an empty or absent section works. Staleness limits are in calendar
days since the date of the newest value of an input: past the limit the input is *stale* and the
scenarios that read it show ``unknown`` instead of a state computed from old numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from jobs.config.strict import Strict


class MacroSettings(Strict):
    pmi_line: float = Field(50.0, gt=0, le=100)  # expansion / contraction line of the PMI
    falling_months: int = Field(3, ge=2, le=12)  # consecutive month-on-month declines that light "on"
    cross_memory_months: int = Field(3, ge=1, le=12)  # a fall below the line stays "on" this many releases
    use_ppi: bool = False  # also light on when PPI year-on-year has fallen for ``falling_months``
    event_days: int = Field(30, ge=1, le=365)  # a recorded policy event lights the scenario this long


class HeatSettings(Strict):
    on_percentile: float = Field(90.0, gt=0, le=100)
    watch_percentile: float = Field(80.0, gt=0, le=100)
    smooth_days: int = Field(20, ge=1, le=120)  # turnover share averaged over this many trading days
    min_history_days: int = Field(250, ge=20, le=5000)  # fewer points make a percentile meaningless
    analysis_backfill_days: int = Field(365, ge=0, le=3650)  # first fetch of the Shenwan daily analysis

    @model_validator(mode="after")
    def _ordered(self) -> HeatSettings:
        if self.watch_percentile > self.on_percentile:
            raise ValueError("expected watch_percentile <= on_percentile")
        return self


class ReversalSettings(Strict):
    n_days: int = Field(20, ge=2, le=250)  # trading days of the momentum window
    x_points: float = Field(5.0, gt=0, le=100)  # leaders behind laggards by more than this: "on"
    watch_points: float = Field(2.5, ge=0, le=100)  # ... by more than this: "watch"
    ppi_rising_months: int = Field(0, ge=0, le=12)  # 0 = ignore PPI; else N months of rising PPI yoy

    @model_validator(mode="after")
    def _ordered(self) -> ReversalSettings:
        if self.watch_points > self.x_points:
            raise ValueError("expected watch_points <= x_points")
        return self


class BoardSettings(Strict):
    name: str = Field(min_length=1, max_length=60)  # EastMoney concept board name, e.g. DeepSeek概念
    watch_share_pct: float = Field(5.0, gt=0, le=100)  # share of total A-share market cap, percent
    on_share_pct: float = Field(8.0, gt=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> BoardSettings:
        if self.watch_share_pct > self.on_share_pct:
            raise ValueError("expected watch_share_pct <= on_share_pct")
        return self


class StalenessSettings(Strict):
    pmi_days: int = Field(45, ge=1, le=400)  # a month's PMI is published on its last day
    ppi_days: int = Field(50, ge=1, le=400)  # PPI comes out around the 10th of the next month
    amount_days: int = Field(7, ge=1, le=60)
    analysis_days: int = Field(7, ge=1, le=60)
    board_days: int = Field(7, ge=1, le=60)
    spread_days: int = Field(7, ge=1, le=60)


class InputFiles(Strict):
    """Regime inputs read from files (``csv:PATH``) instead of the live feeds; None = not from a file."""

    pmi: str | None = None  # month,pmi[,release_date]
    amount: str | None = None  # date,code,name,amount: daily turnover per industry
    pe: str | None = None  # date,code,name,pe

    @field_validator("pmi", "amount", "pe")
    @classmethod
    def _csv_form(cls, v: str | None) -> str | None:
        if v is None or (v.startswith("csv:") and len(v) > 4):
            return v
        raise ValueError("expected 'csv:PATH'")

    def path(self, kind: str) -> Path | None:
        spec = getattr(self, kind)
        return None if spec is None else Path(spec[len("csv:") :])


class RegimeSettings(Strict):
    # "auto": fetch the regime inputs only when data.source is akshare (sample and CSV stay offline)
    fetch: Literal["auto", "always", "never"] = "auto"
    alerts: bool = True  # send scenario and composite transitions to subscribers
    macro: MacroSettings = MacroSettings()
    heat: HeatSettings = HeatSettings()
    reversal: ReversalSettings = ReversalSettings()
    boards: tuple[BoardSettings, ...] = ()
    staleness: StalenessSettings = StalenessSettings()
    inputs: InputFiles = InputFiles()

    @field_validator("inputs", mode="before")
    @classmethod
    def _empty_inputs(cls, v: object) -> object:
        return {} if v is None else v  # "inputs:" with every file commented out
