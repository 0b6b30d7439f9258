"""English readers see industries by English names on every source: Shenwan's and CITIC's built in, a
csv's own ``name_en`` column, and otherwise the source's names with one line saying it has no English names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from support.alert_template_contexts import ALERT_CONTEXTS
from support.language_checks import CJK

from bot.cli.main import main
from jobs.engine.export import history_csv
from jobs.model.figures import IndustryGain
from jobs.rendering.messages import render
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CITIC = DATA / "citic_l1_daily.csv"
AS_OF = date(2025, 2, 14)
NO_ENGLISH = "This source has no English names"

pytestmark = pytest.mark.skipif(not CITIC.exists(), reason="shared data not present")


def citic_slice(path: Path, **extra: object) -> Path:
    rows = pd.read_csv(CITIC, dtype={"code": str})
    rows = rows[(rows["date"] >= "2023-06-01") & (rows["date"] <= AS_OF.isoformat())]
    for column, value in extra.items():
        rows[column] = value
    rows.to_csv(path, index=False)
    return path


def report(capsys: pytest.CaptureFixture[str], csv: Path, db: Path, lang: str) -> str:
    args = ["report", "--source", f"csv:{csv}", "--db", str(db), "--as-of", AS_OF.isoformat(), "--lang", lang]
    assert main(args) == 0
    return capsys.readouterr().out


def test_citic_in_english_has_no_chinese_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = citic_slice(tmp_path / "citic.csv")
    en = report(capsys, csv, tmp_path / "c.db", "en")
    assert not CJK.search(en), en
    assert NO_ENGLISH not in en
    zh = report(capsys, csv, tmp_path / "c.db", "zh")
    assert "Telecommunications" not in zh and "、" in zh
    store = Store(tmp_path / "c.db")
    snaps = store.snapshots_between(f"csv:{csv}", AS_OF, AS_OF)
    exported = pd.read_csv(pd.io.common.StringIO(history_csv(snaps)))
    for column in ("top5_en", "bottom5_en"):
        assert not exported[column].str.contains(CJK).any(), exported[column].tolist()


def test_a_csv_name_en_column_names_its_industries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = pd.read_csv(CITIC, dtype={"code": str})
    rows = rows[(rows["date"] >= "2023-06-01") & (rows["date"] <= AS_OF.isoformat())].copy()
    rows["code"] = rows["code"].str.replace("CI005", "MY", regex=False)  # not CITIC's codes: no built-in names
    rows["name"] = "自选" + rows["name"]
    rows["name_en"] = "Own " + rows["code"]
    csv = tmp_path / "own.csv"
    rows.to_csv(csv, index=False)
    en = report(capsys, csv, tmp_path / "o.db", "en")
    assert not CJK.search(en), en
    assert "Own MY0" in en and NO_ENGLISH not in en


def test_without_english_names_english_says_so_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = pd.read_csv(CITIC, dtype={"code": str})
    rows = rows[(rows["date"] >= "2023-06-01") & (rows["date"] <= AS_OF.isoformat())].copy()
    rows["code"] = rows["code"].str.replace("CI005", "MY", regex=False)
    rows["name"] = "自选" + rows["name"]
    csv = tmp_path / "own.csv"
    rows.to_csv(csv, index=False)
    en = report(capsys, csv, tmp_path / "o.db", "en")
    assert "自选" in en  # the source's own names: there are no others
    assert en.count(NO_ENGLISH) == 2  # once in each of the two answers report prints (/spread, /top5)


def test_the_english_digest_names_industries_in_english() -> None:
    ctx = ALERT_CONTEXTS["alert_digest"]()
    snap = ctx["snap"]
    gains = tuple(IndustryGain("801770", "通信", g.gain, g.rank) for g in snap.gains)
    ctx["snap"] = replace(snap, top=gains[:5], bottom=gains[-5:], gains=gains)
    en = render("alert_digest", "en", **ctx)
    assert "Telecommunications" in en and not CJK.search(en), en
