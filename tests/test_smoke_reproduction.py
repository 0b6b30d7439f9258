"""The study's acceptance table, through the command line on the real Shenwan data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main

SW = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"

pytestmark = pytest.mark.skipif(not SW.exists(), reason="shared data not present")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # one store for the module: the first report fills it, the next ones only read
    return tmp_path_factory.mktemp("smoke") / "t.db"


def run_json(capsys: pytest.CaptureFixture[str], db: Path, as_of: str) -> dict:
    code = main(["report", "--source", f"csv:{SW}", "--db", str(db), "--as-of", as_of, "--json"])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return json.loads(out)


def test_study_table_2025_02_14(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    data = run_json(capsys, db, "2025-02-14")
    top = [(g["name"], g["gain"]) for g in data["top"]]
    bottom = [(g["name"], g["gain"]) for g in data["bottom"]]
    assert [n for n, _ in top] == ["计算机", "传媒", "综合", "电子", "商贸零售"]
    assert [n for n, _ in bottom] == ["煤炭", "公用事业", "石油石化", "农林牧渔", "食品饮料"]
    for (_, got), want in zip(top + bottom, [78.9, 53.7, 48.4, 45.6, 43.2, -5.0, -4.9, 0.9, 1.7, 7.1], strict=True):
        assert abs(got - want) <= 0.15
    assert abs(data["spread"] - 54.0) <= 0.1
    assert data["as_of"] == "2025-02-14"
    # the report says P90; this file's pre-2021 history uses older classifications and gives ~94
    assert 93.5 <= data["percentile"] <= 95.0


def test_study_spread_2024_08_30(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    data = run_json(capsys, db, "2024-08-30")
    assert abs(data["spread"] - 21.0) <= 0.1
