"""The source interface: every data source yields long price batches for the industries it declares."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import pandas as pd

# Shenwan 2021 level-1 industries (31), as akshare's index_hist_sw serves them.
SW2021_L1: dict[str, str] = {
    "801010": "农林牧渔",
    "801030": "基础化工",
    "801040": "钢铁",
    "801050": "有色金属",
    "801080": "电子",
    "801110": "家用电器",
    "801120": "食品饮料",
    "801130": "纺织服饰",
    "801140": "轻工制造",
    "801150": "医药生物",
    "801160": "公用事业",
    "801170": "交通运输",
    "801180": "房地产",
    "801200": "商贸零售",
    "801210": "社会服务",
    "801230": "综合",
    "801710": "建筑材料",
    "801720": "建筑装饰",
    "801730": "电力设备",
    "801740": "国防军工",
    "801750": "计算机",
    "801760": "传媒",
    "801770": "通信",
    "801780": "银行",
    "801790": "非银金融",
    "801880": "汽车",
    "801890": "机械设备",
    "801950": "煤炭",
    "801960": "石油石化",
    "801970": "环保",
    "801980": "美容护理",
}

# Shenwan's English names of the same industries, so that /industry understands "computer" or "coal".
SW2021_L1_EN: dict[str, str] = {
    "801010": "Agriculture, Forestry, Animal Husbandry and Fishery",
    "801030": "Basic Chemicals",
    "801040": "Steel",
    "801050": "Non-ferrous Metals",
    "801080": "Electronics",
    "801110": "Household Appliances",
    "801120": "Food and Beverage",
    "801130": "Textiles and Apparel",
    "801140": "Light Industry Manufacturing",
    "801150": "Pharmaceuticals and Biotechnology",
    "801160": "Utilities",
    "801170": "Transportation",
    "801180": "Real Estate",
    "801200": "Commerce and Retail",
    "801210": "Social Services",
    "801230": "Comprehensive",
    "801710": "Building Materials",
    "801720": "Construction and Decoration",
    "801730": "Power Equipment",
    "801740": "Defense and Military",
    "801750": "Computer",
    "801760": "Media",
    "801770": "Telecommunications",
    "801780": "Banks",
    "801790": "Non-bank Financials",
    "801880": "Automobiles",
    "801890": "Machinery and Equipment",
    "801950": "Coal",
    "801960": "Oil and Petrochemicals",
    "801970": "Environmental Protection",
    "801980": "Beauty Care",
}

# what users are shown as the source of the numbers (the messages name the first two in Chinese too)
AKSHARE_SW_LABEL = "Shenwan 2021 level-1 (akshare)"
SAMPLE_LABEL = "SYNTHETIC sample data (not market data)"

BATCH_COLUMNS = ["date", "code", "name", "close", "amount"]


class FetchError(Exception):
    """The source could not deliver a batch (network, upstream error, malformed payload)."""


@dataclass
class PriceBatch:
    """Rows ``date`` (datetime.date), ``code``, ``name``, ``close``, ``amount`` (may be NaN)."""

    rows: pd.DataFrame
    # code -> name the source declares; every declared code must be in a live batch (complete=True)
    declared: dict[str, str]
    complete: bool = True
    notes: list[str] = field(default_factory=list)
    # code -> English name, for a source that gives them (a csv ``name_en`` column); empty otherwise
    declared_en: dict[str, str] = field(default_factory=dict)
    # rows the source holds dated after the fetch's last day (a csv with tomorrow's or made-up dates): left
    # out, and counted so that the refresh says so instead of dropping them without a word
    after_until: int = 0
    first_after_until: date | None = None

    @property
    def last_date(self) -> date | None:
        return None if self.rows.empty else max(self.rows["date"])


@dataclass(frozen=True)
class Reread:
    """How much of the stored past a refresh fetches again, to take in closes the source has restated."""

    days: int = 0  # the last N stored trading days
    stamp: str | None = None  # the whole history, whenever this differs from the last refresh's stamp


class Source(Protocol):
    name: str
    label: str  # shown to users: where the numbers come from
    synthetic: bool

    def fetch(self, since: date | None, until: date) -> PriceBatch:
        """Rows with since < date <= until (all history when ``since`` is None)."""
        ...


def reread_of(source: Source) -> Reread:
    """The source's ``reread()`` policy; a source without one is never restated (the synthetic sample)."""
    policy = getattr(source, "reread", None)
    return policy() if callable(policy) else Reread()


def empty_rows() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("date", "code", "name") else float) for c in BATCH_COLUMNS})
