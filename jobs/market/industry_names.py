"""English names of Shenwan level-1 industries, for English messages, exports and charts.

Looked up by the Chinese name first, then by code: Shenwan renamed industries on the same code at
each revision (801210 餐饮旅游 → 休闲服务 → 社会服务), so a name from an older snapshot keeps its
own English name. Names of other classifications (e.g. a user's CITIC CSV) that share a Chinese
name with Shenwan get its English name; others are shown as the source names them.
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

_BY_NAME: dict[str, str] = {**OLDER_SHENWAN_EN, **{SW2021_L1[code]: en for code, en in SW2021_L1_EN.items()}}


def english_name(name: str, code: str = "") -> str | None:
    """Shenwan's English name for this industry, or None when there is none."""
    return _BY_NAME.get(name.strip()) or SW2021_L1_EN.get(code)


def display_name(name: str, code: str = "", lang: str = "zh") -> str:
    """The name a reader of ``lang`` sees: English where one is known, else the source's own name."""
    if lang == "en":
        return english_name(name, code) or name
    return name
