"""The study's acceptance table, through the command line on the real Shenwan data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

SW = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"

pytestmark = pytest.mark.skipif(not SW.exists(), reason="shared data not present")


def run_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, as_of: str) -> dict:
    code = main(["report", "--source", f"csv:{SW}", "--db", str(tmp_path / "t.db"), "--as-of", as_of, "--json"])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    return json.loads(out)


def test_study_table_2025_02_14(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = run_json(capsys, tmp_path, "2025-02-14")
    top = [(g["name"], g["gain"]) for g in data["top"]]
    bottom = [(g["name"], g["gain"]) for g in data["bottom"]]
    assert [n for n, _ in top] == ["计算机", "传媒", "综合", "电子", "商贸零售"]
    assert [n for n, _ in bottom] == ["煤炭", "公用事业", "石油石化", "农林牧渔", "食品饮料"]
    for (_, got), want in zip(top + bottom, [78.9, 53.7, 48.4, 45.6, 43.2, -5.0, -4.9, 0.9, 1.7, 7.1], strict=True):
        assert abs(got - want) <= 0.15
    assert abs(data["spread"] - 54.0) <= 0.1
    assert data["as_of"] == "2025-02-14"


def test_study_spread_2024_08_30(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = run_json(capsys, tmp_path, "2024-08-30")
    assert abs(data["spread"] - 21.0) <= 0.1
