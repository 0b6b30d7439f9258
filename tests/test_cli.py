"""`spreadwatch report` / `backfill` on the embedded defaults (synthetic sample, temporary store)."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli.main import main
from jobs.engine.spread import compute_history, wide_closes
from jobs.market.calendar import TradingCalendar
from jobs.market.sources.sample import synthetic_frame
from jobs.model.figures import NameBook


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli") / "defaults.db"


@pytest.fixture(autouse=True)
def no_config_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config.yaml: built-in defaults


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def due_today() -> date:
    return TradingCalendar.default().expected_data_date(datetime.now(ZoneInfo("Asia/Shanghai")), time(16, 30))


def test_report_on_defaults_speaks_chinese_and_says_synthetic(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--db", str(db))
    assert code == 0
    day = due_today()
    assert f"行业分化 · {day}\n" in out  # the /spread answer ...
    assert f"\n涨幅前5行业 · {day}（" in out  # ... then the /top5 answer
    assert out.count("合成样本数据，仅供演示，并非真实行情") == 2
    assert "数据未更新" not in out
    assert "<b>" not in out and "&#39;" not in out and "&amp;" not in out  # plain text, not the bot's HTML


def test_report_in_english(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--db", str(db), "--lang", "en")
    assert code == 0
    assert "Industry differentiation · " in out and "Top 5 industries · " in out
    assert out.count("SYNTHETIC sample data for demonstration, not market data") == 2
    assert "source: SYNTHETIC sample data (not market data)" in out


def test_report_json_keys(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = report(capsys, "--db", str(db), "--json")
    assert code == 0
    data = json.loads(out)
    assert {"as_of", "spread", "percentile", "top", "bottom", "source"} <= set(data)
    assert data["as_of"] == due_today().isoformat() and data["source"] == "sample" and data["synthetic"] is True
    assert len(data["top"]) == len(data["bottom"]) == 5
    for item in data["top"] + data["bottom"]:
        assert {"code", "name", "gain"} <= set(item) and isinstance(item["gain"], float)
    assert [g["gain"] for g in data["top"]] == sorted((g["gain"] for g in data["top"]), reverse=True)
    assert [g["gain"] for g in data["bottom"]] == sorted(g["gain"] for g in data["bottom"])
    top_avg = sum(g["gain"] for g in data["top"]) / 5
    bottom_avg = sum(g["gain"] for g in data["bottom"]) / 5
    assert data["spread"] == pytest.approx(top_avg - bottom_avg, abs=1e-3)  # percent points
    assert 0 < data["percentile"] <= 100


@pytest.mark.parametrize(
    ("asked", "shown"),
    [("2025-02-15", "2025-02-14"), ("2025-02-16", "2025-02-14"), ("2025-10-05", "2025-09-30"), ("2025-02-14", None)],
)
def test_as_of_a_non_trading_day_shows_the_previous_trading_day(
    db: Path, capsys: pytest.CaptureFixture[str], asked: str, shown: str | None
) -> None:
    code, out, _ = report(capsys, "--db", str(db), "--json", "--as-of", asked)
    assert code == 0
    data = json.loads(out)
    assert data["as_of"] == (shown or asked)
    assert data["stale"] is False  # a past day asked for is not "stale"


def test_the_numbers_are_the_metric_of_the_sample(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    day = date(2025, 2, 14)
    _, out, _ = report(capsys, "--db", str(db), "--json", "--as-of", day.isoformat())
    data = json.loads(out)
    frame = synthetic_frame(day)
    names = NameBook.constant(dict(zip(frame["code"], frame["name"], strict=True)))
    expected = compute_history(wide_closes(frame), names).snapshot(day)
    assert expected is not None
    assert data["spread"] == pytest.approx(expected.spread, abs=1e-4)
    assert data["percentile"] == pytest.approx(expected.percentile, abs=0.01)
    assert [g["code"] for g in data["top"]] == [g.code for g in expected.top]


def test_backfill_reports_what_it_did(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["backfill", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sample: ok - ") and f"latest snapshot {due_today()}" in out


def test_a_failing_source_never_falls_back_to_the_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.csv"
    code, out, _ = report(capsys, "--db", str(tmp_path / "x.db"), "--source", f"csv:{missing}", "--lang", "en")
    assert code == 1
    assert "Nothing to show" in out and f"the CSV file {missing} does not exist" in out
    assert "SYNTHETIC" not in out
    code, out, _ = report(capsys, "--db", str(tmp_path / "x.db"), "--source", f"csv:{missing}", "--json")
    assert code == 1 and json.loads(out)["error"] == "no data"


def test_a_csv_of_other_industries_and_a_shorter_history(
    tmp_path: Path, citic_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "citic.db")
    code, out, _ = report(capsys, "--db", db, "--source", f"csv:{citic_csv}", "--as-of", "2025-02-14", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["source"] == f"csv:{citic_csv}" and data["synthetic"] is False
    assert all(g["code"].startswith("CI0050") for g in data["top"] + data["bottom"])
    assert data["top"][0]["name"] == "计算机"
    # the percentile's history starts when this data allows, and the answer says so
    assert data["history_start"].startswith("2015-")
    code, out, _ = report(capsys, "--db", db, "--source", f"csv:{citic_csv}", "--as-of", "2025-02-14", "--lang", "en")
    assert "of its history since 2015" in out


def test_as_of_before_the_history_says_where_it_starts(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--db", str(db), "--as-of", "2009-03-02"]) == 2
    err = capsys.readouterr().err
    assert "no spread on or before 2009-03-02" in err and "starts on 2010-01-04" in err
    assert main(["report", "--db", str(db), "--as-of", "2009-03-02", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "before history"
