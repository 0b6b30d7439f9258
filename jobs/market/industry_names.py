"""English names of level-1 industries, for English messages, exports and charts: Shenwan's and CITIC's.

Looked up by the Chinese name first, then by code: Shenwan renamed industries on the same code at
each revision (801210 餐饮旅游 → 休闲服务 → 社会服务), so a name from an older snapshot keeps its
own English name. A source that gives its own English names (a csv ``name_en`` column, carried as
``IndustryGain.name_en``) is followed first; names of other classifications that have neither are
shown as the source names them (:func:`has_english_name` tells which).
"""

from __future__ import annotations

from jobs.market.sources.base import SW2021_L1, SW2021_L1_EN

# SW2000 and SW2014 names that SW2021 dropped or renamed
OLDER_SHENWAN_EN: dict[str, str] = {
    "采掘": "Mining",
    "化工": "Chemicals",
    "黑色金属": "Ferrous Metals",
    "建筑建材": "Construction and Building Materials",
    "机械设备": "Machinery and Equipment",
    "交运设备": "Transportation Equipment",
    "信息设备": "Information Equipment",
    "纺织服装": "Textiles and Apparel",
    "金融服务": "Financial Services",
    "商业贸易": "Commerce and Trade",
    "餐饮旅游": "Catering and Tourism",
    "休闲服务": "Leisure Services",
    "信息服务": "Information Services",
    "电气设备": "Electrical Equipment",
}

# CITIC level-1 industries (CI005001-CI005030), by the short names Wind exports them under
CITIC_L1: dict[str, str] = {
    "CI005001": "石油石化",
    "CI005002": "煤炭",
    "CI005003": "有色金属",
    "CI005004": "电力及公用事业",
    "CI005005": "钢铁",
    "CI005006": "基础化工",
    "CI005007": "建筑",
    "CI005008": "建材",
    "CI005009": "轻工制造",
    "CI005010": "机械",
    "CI005011": "电力设备及新能源",
    "CI005012": "国防军工",
    "CI005013": "汽车",
    "CI005014": "商贸零售",
    "CI005015": "消费者服务",
    "CI005016": "家电",
    "CI005017": "纺织服装",
    "CI005018": "医药",
    "CI005019": "食品饮料",
    "CI005020": "农林牧渔",
    "CI005021": "银行",
    "CI005022": "非银行金融",
    "CI005023": "房地产",
    "CI005024": "交通运输",
    "CI005025": "电子",
    "CI005026": "通信",
    "CI005027": "计算机",
    "CI005028": "传媒",
    "CI005029": "综合",
    "CI005030": "综合金融",
}

# CITIC's English names of the same industries
CITIC_L1_EN: dict[str, str] = {
    "CI005001": "Petroleum and Petrochemicals",
    "CI005002": "Coal",
    "CI005003": "Non-ferrous Metals",
    "CI005004": "Power and Utilities",
    "CI005005": "Steel",
    "CI005006": "Basic Chemicals",
    "CI005007": "Construction",
    "CI005008": "Building Materials",
    "CI005009": "Light Manufacturing",
    "CI005010": "Machinery",
    "CI005011": "Power Equipment and New Energy",
    "CI005012": "Defense and Military",
    "CI005013": "Automobiles",
    "CI005014": "Commerce and Retail",
    "CI005015": "Consumer Services",
    "CI005016": "Household Appliances",
    "CI005017": "Textiles and Apparel",
    "CI005018": "Pharmaceuticals",
    "CI005019": "Food and Beverage",
    "CI005020": "Agriculture, Forestry, Animal Husbandry and Fishery",
    "CI005021": "Banks",
    "CI005022": "Non-bank Financials",
    "CI005023": "Real Estate",
    "CI005024": "Transportation",
    "CI005025": "Electronics",
    "CI005026": "Telecommunications",
    "CI005027": "Computer",
    "CI005028": "Media",
    "CI005029": "Comprehensive",
    "CI005030": "Diversified Financials",
}

_BY_CODE: dict[str, str] = {**SW2021_L1_EN, **CITIC_L1_EN}
_BY_NAME: dict[str, str] = {
    **{CITIC_L1[code]: en for code, en in CITIC_L1_EN.items()},
    **OLDER_SHENWAN_EN,
    **{SW2021_L1[code]: en for code, en in SW2021_L1_EN.items()},
}


def english_name(name: str, code: str = "") -> str | None:
    """Shenwan's or CITIC's English name for this industry, or None when there is none (a CITIC code
    first: CITIC and Shenwan name some industries alike and translate them differently)."""
    return CITIC_L1_EN.get(code) or _BY_NAME.get(name.strip()) or _BY_CODE.get(code)


def has_english_name(name: str, code: str = "", name_en: str = "") -> bool:
    return bool(name_en) or english_name(name, code) is not None


def display_name(name: str, code: str = "", lang: str = "zh", name_en: str = "") -> str:
    """The name a reader of ``lang`` sees: the source's own English name, else a known one, else the
    source's name."""
    if lang == "en":
        return name_en or english_name(name, code) or name
    return name
