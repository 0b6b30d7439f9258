"""Relative paths follow the config file; check-config checks the files and dates it can; "no data" says why."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from support.cli_support import write_config, write_csv

from bot.cli.main import main

END = date(2025, 2, 14)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The current folder of a cron job: not the config's."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_relative_paths_in_the_config_resolve_against_its_folder(
    tmp_path: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "etc" / "spreadwatch"
    write_csv(conf / "data" / "prices.csv", date(2024, 1, 2), END)
    config = write_config(
        conf / "config.yaml", data={"source": "csv:data/prices.csv"}, storage={"path": "spreadwatch.db"}
    )
    assert main(["report", "--config", str(config), "--as-of", str(END), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["source"] == f"csv:{conf / 'data' / 'prices.csv'}" and data["as_of"] == str(END)
    assert (conf / "spreadwatch.db").is_file()
    assert list(elsewhere.iterdir()) == []  # no stray empty store in the current folder

    # check-config shows where they resolved, absolute
    assert main(["check-config", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"config: {config}" in out
    assert f"source: csv:{conf / 'data' / 'prices.csv'}" in out
    assert f"store: {conf / 'spreadwatch.db'}" in out
    assert out.rstrip().endswith("config ok")


def test_a_relative_config_path_and_command_line_paths(
    tmp_path: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = elsewhere / "conf"
    write_csv(conf / "prices.csv", date(2024, 1, 2), END)
    write_config(conf / "config.yaml", data={"source": "csv:prices.csv"}, storage={"path": "../state/sw.db"})
    assert main(["check-config", "--config", "conf/config.yaml"]) == 0
    out = capsys.readouterr().out
    assert f"store: {elsewhere / 'state' / 'sw.db'}" in out and f"csv:{conf / 'prices.csv'}" in out
    # --db and --source given on the command line are the operator's: relative to the current folder
    args = ["report", "--config", "conf/config.yaml", "--db", "here.db", "--source", "csv:conf/prices.csv", "--json"]
    assert main([*args, "--as-of", str(END)]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == f"csv:{conf / 'prices.csv'}"
    assert (elsewhere / "here.db").is_file() and not (elsewhere / "state").exists()


def check_config(capsys: pytest.CaptureFixture[str], config: Path) -> tuple[int, str, str]:
    code = main(["check-config", "--config", str(config)])
    out, err = capsys.readouterr()
    return code, out, err


def test_check_config_refuses_a_csv_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.yaml", data={"source": "csv:missing.csv"})
    code, out, err = check_config(capsys, config)
    assert code == 2 and "config ok" not in out
    assert err.strip() == f"config error: data.source: the CSV file {tmp_path / 'missing.csv'} does not exist"


def test_check_config_refuses_a_history_start_in_the_future(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.yaml", metric={"history_start": "2099-01-01"})
    code, _, err = check_config(capsys, config)
    assert code == 2
    assert err.startswith("config error: metric.history_start: 2099-01-01 is in the future")
    assert len(err.strip().splitlines()) == 1


def test_check_config_refuses_a_history_start_after_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_csv(tmp_path / "prices.csv", date(2024, 1, 2), END)
    config = write_config(
        tmp_path / "config.yaml", data={"source": "csv:prices.csv"}, metric={"history_start": "2025-06-01"}
    )
    code, _, err = check_config(capsys, config)
    assert code == 2
    assert err.strip() == (
        f"config error: metric.history_start: 2025-06-01 is after the last day of prices.csv ({END})"
    )


@pytest.mark.parametrize(
    ("start", "industries", "expected"),
    [
        (
            date(2024, 1, 2),
            6,
            "config error: metric.top_k: 5 needs at least 10 industries on a day; prices.csv has at most 6",
        ),
        (
            date(2024, 10, 8),
            12,
            f"config error: metric.window: prices.csv runs from 2024-10-08 to {END}, too short for a 6M gain",
        ),
    ],
    ids=["too-few-industries", "history-too-short"],
)
def test_check_config_refuses_a_csv_the_metric_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: date, industries: int, expected: str
) -> None:
    write_csv(tmp_path / "prices.csv", start, END, industries=industries)
    config = write_config(tmp_path / "config.yaml", data={"source": "csv:prices.csv"})
    code, _, err = check_config(capsys, config)
    assert code == 2 and err.strip() == expected


def test_check_config_accepts_the_real_shenwan_csv(
    sw_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config.yaml", data={"source": f"csv:{sw_csv}"})
    code, out, err = check_config(capsys, config)
    assert (code, err) == (0, "") and out.rstrip().endswith("config ok")


def report_en(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[int, str]:
    code = main(["report", "--config", str(config), "--lang", "en", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out


@pytest.mark.parametrize(
    ("csv_span", "industries", "metric", "why"),
    [
        # rows only in the far future: nothing on or before today
        ((date(2099, 1, 5), date(2099, 3, 2)), 12, {}, "the source has no rows on or before "),
        ((date(2024, 1, 2), END), 6, {}, "the data has at most 6 industries on any day, and the top and bottom 5 "),
        (
            (date(2024, 1, 2), END),
            12,
            {"history_start": "2025-06-01"},
            f"metric.history_start (2025-06-01) is after the last day of the data ({END})",
        ),
        (
            (date(2024, 10, 8), END),
            12,
            {},
            f"the data runs from 2024-10-08 to {END}, too short for a 6M gain",
        ),
    ],
    ids=["no-rows-in-range", "too-few-industries", "history-start-after-data", "history-too-short"],
)
def test_report_says_why_there_is_nothing_to_show(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    csv_span: tuple[date, date],
    industries: int,
    metric: dict[str, str],
    why: str,
) -> None:
    write_csv(tmp_path / "prices.csv", *csv_span, industries=industries)
    config = write_config(tmp_path / "config.yaml", data={"source": "csv:prices.csv"}, metric=metric)
    code, out = report_en(capsys, config)
    assert code == 1
    assert out.startswith("⚠️ Nothing to show from CSV prices.csv: ")
    assert why in out
    assert "Ask again once a fetch has succeeded" not in out  # the old, wrong reason


def test_the_reason_in_chinese_and_in_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_csv(tmp_path / "prices.csv", date(2024, 1, 2), END, industries=6)
    config = write_config(tmp_path / "config.yaml", data={"source": "csv:prices.csv"})
    assert main(["report", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "暂无可显示的数据" in out and "每天最多只有 6 个行业" in out and "需要 10 个" in out
    assert main(["report", "--config", str(config), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["error"] == "no data" and data["reason"] == "too_few_industries"
    assert "每天最多只有 6 个行业" in data["message"] and "<b>" not in data["message"]


def test_backtest_and_export_say_why_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config.yaml", lang="en", data={"source": "csv:nowhere.csv"})
    for command in ("backtest", "export"):
        assert main([command, "--config", str(config)]) == 1
        out = capsys.readouterr().out
        assert f"the CSV file {tmp_path / 'nowhere.csv'} does not exist" in out, command
