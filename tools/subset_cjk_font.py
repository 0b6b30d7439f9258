"""Rebuild ``jobs/rendering/fonts/NotoSansSC-spreadwatch-subset.otf`` from a full Noto Sans SC Regular.

    python tools/subset_cjk_font.py /path/to/NotoSansSC-Regular.otf
    python tools/subset_cjk_font.py /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc   # Debian fonts-noto-cjk

(the collection's "Noto Sans CJK SC" face has the same Simplified Chinese glyphs as Noto Sans SC).

The charts draw a few fixed Chinese words (their labels in ``jobs.rendering.charts``) and may name industries;
a subset with just those glyphs (plus ASCII and CJK punctuation) is a few dozen kilobytes instead
of 8 MB. Run it again after adding Chinese text to a chart: ``tests/test_charts.py`` fails when a
label has a character the subset lacks. The font is under the SIL Open Font License 1.1
(``jobs/rendering/fonts/OFL.txt``); the subset gets its own family name, as the licence asks of modified
versions, so it never stands in for a full Noto Sans SC installed on the machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

FAMILY = "Spreadwatch Sans SC Subset"
OUT = Path(__file__).resolve().parents[1] / "jobs" / "rendering" / "fonts" / "NotoSansSC-spreadwatch-subset.otf"


def wanted_text() -> str:
    sys.path.insert(0, str(OUT.parents[2]))
    from jobs.market.industry_names import CITIC_L1, OLDER_SHENWAN_EN
    from jobs.market.sources.base import SW2021_L1
    from jobs.regimes.regime_chart import LABELS as REGIME_LABELS
    from jobs.rendering.charts import LABELS

    words = [
        *LABELS["zh"].values(),
        *REGIME_LABELS["zh"].values(),
        *SW2021_L1.values(),
        *CITIC_L1.values(),
        *OLDER_SHENWAN_EN,
        "年月日前后五十百分点",
    ]
    ascii_printable = "".join(chr(c) for c in range(0x20, 0x7F))
    # U+2212: matplotlib writes negative tick labels with the minus sign, not a hyphen
    return ascii_printable + "（）：，、。．—−–%‰±×" + "".join(words)


def main(source: str) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    options.notdef_outline = True
    number = -1
    if source.lower().endswith((".ttc", ".otc")):
        from fontTools.ttLib import TTCollection

        faces = [f["name"].getDebugName(1) for f in TTCollection(source).fonts]
        number = faces.index("Noto Sans CJK SC")
    font = TTFont(source, recalcTimestamp=False, fontNumber=number)  # the same input gives the same bytes
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=wanted_text())
    subsetter.subset(font)
    names = font["name"]
    for record in names.names:
        if record.nameID in (1, 4, 16):
            record.string = FAMILY
        elif record.nameID == 6:
            record.string = FAMILY.replace(" ", "") + "-Regular"
        elif record.nameID == 3:
            record.string = f"{FAMILY};subset"
    font.save(OUT)
    print(f"{OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/subset_cjk_font.py NotoSansSC-Regular.otf")
    main(sys.argv[1])
