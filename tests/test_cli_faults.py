"""Faults the error sweep (tests/test_cli_sweep.py) found or stands guard over, each checked in full:
the exact line, the exit code, and that nothing was done on the way."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support.cli_support import REPO, far_calendar, one_line_no_traceback, write_config, write_csv
from support.fakebot import FakeBotAPI

from bot.cli.cli_common import ExitCode
from bot.cli.main import main
from jobs.alerting.daily import last_evaluated_key
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

END = date(2025, 2, 14)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def csv_config(tmp_path: Path) -> Path:
    """A csv source from 2023, a calendar that needs no refresh, a store of its own."""
    csv = write_csv(tmp_path / "prices.csv", date(2023, 1, 3), END)
    data = {"source": f"csv:{csv}", "calendar_file": str(far_calendar(tmp_path / "calendar.txt"))}
    return write_config(tmp_path / "config.yaml", lang="en", data=data, storage={"path": str(tmp_path / "s.db")})


def test_run_stops_on_a_bad_calendar_file_before_it_connects(tmp_path: Path) -> None:
    empty = tmp_path / "days.txt"
    empty.write_text("# no days yet\n", encoding="utf-8")
    with FakeBotAPI() as fake:
        config = write_config(
            tmp_path / "config.yaml",
            data={"calendar_file": str(empty)},
            storage={"path": str(tmp_path / "bot.db")},
            telegram={"token_env": "SW_FAULTS_TOKEN", "base_url": fake.base_url},
        )
        env = {**os.environ, "SW_FAULTS_TOKEN": "123:abc", "PYTHONPATH": str(REPO)}
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert fake.call_count() == 0  # refused at start, before a word to Telegram
    assert proc.returncode == ExitCode.CONFIG, proc.stderr
    assert one_line_no_traceback(proc.stderr) == (
        f"config error: data.calendar_file: {empty}: no dates in the file; "
        "list one trading day (YYYY-MM-DD) a line, or remove the key to use akshare's calendar"
    )
    assert proc.stdout == "" and not (tmp_path / "bot.db").exists()


def test_an_unreadable_calendar_file_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "days.bin"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    config = write_config(tmp_path / "config.yaml", data={"calendar_file": str(binary)})
    for command in ("report", "check-config"):
        code, _, err = run(capsys, command, "--config", str(config))
        assert code == ExitCode.CONFIG, command
        assert err.splitlines()[-1] == (
            f"config error: data.calendar_file: {binary}: not a text file of dates (not UTF-8); "
            "list one trading day (YYYY-MM-DD) a line, or remove the key to use akshare's calendar"
        )


def test_a_file_name_too_long_names_the_option_and_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / ("p" * 300 + ".png")
    code, out, err = run(capsys, "backtest", "--db", str(tmp_path / "s.db"), "--png", str(png))
    assert (code, out) == (ExitCode.FILE, "")
    shown = f"{tmp_path}/pppppppppppppppp...pppp.png"
    assert re.fullmatch(
        re.escape(f"--png: {shown}: file name too long (a name of 304 bytes, the file system allows ")
        + r"\d+"
        + re.escape("): give a shorter name\n"),
        err,
    ), err
    assert not (tmp_path / "s.db").exists()  # refused before any work
    # a name from the configuration is named by its key
    config = write_config(tmp_path / "config.yaml", storage={"path": str(tmp_path / ("d" * 300 + ".db"))})
    code, _, err = run(capsys, "report", "--config", str(config))
    assert code == ExitCode.FILE and err.startswith(f"storage.path: {tmp_path}/dddddddddddddddd...ddddd.db: ")
    # the configuration file itself is a configuration error
    long_config = tmp_path / ("c" * 300 + ".yaml")
    code, _, err = run(capsys, "check-config", "--config", str(long_config))
    assert (code, err) == (
        ExitCode.CONFIG,
        f"config error: {long_config}: cannot be read (File name too long): give the configuration file's path\n",
    )


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc file system here")
def test_check_config_refuses_a_store_it_cannot_create(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """/proc admits no new file, even to root, whatever its permission bits say."""
    for store in (Path("/proc/spreadwatch.db"), Path("/proc/spreadwatch/spreadwatch.db")):
        config = write_config(tmp_path / "config.yaml", storage={"path": str(store)})
        code, out, err = run(capsys, "check-config", "--config", str(config))
        assert code == ExitCode.FILE and "config ok" not in out
        assert err == (
            f"cannot create the store {store}: /proc is not a writable folder; "
            "create the folder, or set storage.path to a writable place\n"
        )
        code, _, _ = run(capsys, "report", "--config", str(config))
        assert code == ExitCode.FILE  # what check-config foretold
    assert [p.name for p in Path("/proc").glob(".spreadwatch-check-*")] == []


def test_check_config_says_that_boards_need_the_live_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    assert "- name: DeepSeek概念" in example  # the example configures a concept board
    csv = write_csv(tmp_path / "prices.csv", date(2024, 1, 2), END)
    config = tmp_path / "config.yaml"
    config.write_text(
        example.replace("source: akshare", f"source: csv:{csv}").replace("path: spreadwatch.db", "path: s.db"),
        encoding="utf-8",
    )
    code, out, err = run(capsys, "check-config", "--config", str(config))
    assert code == ExitCode.OK and out.rstrip().endswith("config ok")
    assert err == (
        "warning: regimes.boards: concept boards (DeepSeek概念) come from the live source only, and "
        f"regimes.fetch is auto with data.source csv:{csv}: theme breadth stays unknown; set data.source: akshare "
        "(or regimes.fetch: always), or remove regimes.boards\n"
    )
    # fetched always, the boards are fetched whatever the source: nothing to say
    config.write_text(config.read_text(encoding="utf-8").replace("fetch: auto", "fetch: always"), encoding="utf-8")
    assert run(capsys, "check-config", "--config", str(config))[::2] == (ExitCode.OK, "")


def test_backtest_and_regime_history_refuse_a_range_backwards_alike(
    csv_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["backtest"], ["regime", "--history"]):
        code, out, err = run(
            capsys, *command, "--config", str(csv_config), "--from", "2025-01-01", "--to", "2024-01-01"
        )
        assert (code, out, err) == (
            ExitCode.CONFIG,
            "",
            "--from 2025-01-01 is after --to 2024-01-01: give the earlier day first\n",
        ), command


def shanghai_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


def test_an_as_of_in_the_future_is_refused(csv_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("report", "regime", "run-daily"):
        before = shanghai_today()
        code, out, err = run(capsys, command, "--config", str(csv_config), "--as-of", "2099-01-01")
        after = shanghai_today()  # the same day, unless midnight passed in Shanghai meanwhile
        assert (code, out) == (ExitCode.CONFIG, ""), command
        assert err in {
            f"--as-of 2099-01-01 is in the future (today is {today} in Asia/Shanghai): "
            "give a day up to today, or leave it out for the latest\n"
            for today in (before, after)
        }, err
    assert not (csv_config.parent / "s.db").exists()  # refused before the store was opened


def test_run_daily_as_of_before_the_history_evaluates_nothing(
    csv_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "run-daily", "--config", str(csv_config), "--as-of", str(END))[0] == ExitCode.OK
    store = Store(tmp_path / "s.db")
    source = f"csv:{tmp_path / 'prices.csv'}"
    first = store.first_snapshot_date(source)
    assert first is not None and first > date(2009, 1, 1)
    code, out, err = run(capsys, "run-daily", "--config", str(csv_config), "--as-of", "2009-01-01")
    assert (code, out) == (ExitCode.CONFIG, "")
    assert err == (
        f"no spread on or before 2009-01-01: the history of CSV prices.csv starts on {first}: give --as-of within it\n"
    )
    assert "already evaluated" not in out + err
    assert store.get_meta(last_evaluated_key(source)) == str(END)  # nothing evaluated again
    assert Outbox(store).rows() == []  # and no one told


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["report", "--as-of", "2025-02-30"])
    assert exc.value.code == ExitCode.CONFIG
    assert capsys.readouterr().err == (
        "spreadwatch report: argument --as-of: expected a date like 2025-02-14, got '2025-02-30' "
        "(spreadwatch report --help lists the options)\n"
    )
