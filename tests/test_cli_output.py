"""What the commands print: plain text (not Telegram HTML), the export CSV, the bot's start-up summary,
and one table of exit codes shared by the code, ``--help`` and the README."""

from __future__ import annotations

import ast
import io
import os
import re
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from support.cli_support import REPO, one_line_no_traceback, spreadwatch, write_config, write_csv
from support.fakebot import FakeBotAPI

from bot.cli.cli_common import EXIT_MEANINGS, ExitCode
from bot.cli.main import build_parser, main
from jobs.config.settings import parse_settings
from jobs.engine.export import history_csv
from jobs.rendering.messages import render, to_plain
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

END = date(2025, 2, 14)
TOKEN = "987654321:SUMMARY-secret-token-never-printed"


@pytest.fixture
def odd_csv(tmp_path: Path) -> Path:
    """A CSV whose file name and industry names hold characters HTML must escape (' & <)."""
    return write_csv(tmp_path / "it's R&D.csv", date(2024, 1, 2), END, name_prefix="<R&D> ")


def test_report_prints_plain_text_not_telegram_html(
    odd_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--source", f"csv:{odd_csv}", "--db", str(tmp_path / "x.db"), "--as-of", str(END)]
    for lang in ("en", "zh"):
        assert main([*args, "--lang", lang]) == 0
        out = capsys.readouterr().out
        for html in ("<b>", "</b>", "<i>", "<code>", "&#39;", "&amp;", "&lt;", "&gt;"):
            assert html not in out, (lang, html)
        if lang == "zh":  # English answers name Shenwan codes by their English names
            assert "<R&D> " in out  # the data itself, unescaped
    assert "Industry differentiation · 2025-02-14\n" in main_output(capsys, [*args, "--lang", "en"])
    assert "source: CSV it's R&D.csv" in main_output(capsys, [*args, "--lang", "en"])


def main_output(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    main(args)
    return capsys.readouterr().out


def test_to_plain_keeps_the_lines_and_unescapes() -> None:
    html = render("no_data", "en", source_label="CSV it's <R&D>.csv", error="a < b & c", admin=True)
    assert "&#39;" in html and "<b>" in html  # what the bot sends ...
    plain = to_plain(html)
    assert plain.splitlines()[0] == "⚠️ No data yet: nothing has been computed from CSV it's <R&D>.csv so far."
    assert "a < b & c" in plain  # the raw detail the operator sees
    assert len(plain.splitlines()) == len(html.splitlines())
    assert to_plain('<a href="https://x.org/?a=1&amp;b=2">docs</a> <code>x</code>') == "docs (https://x.org/?a=1&b=2) x"


def test_regime_and_run_daily_print_plain_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv = write_csv(tmp_path / "prices.csv", date(2023, 1, 3), END)
    db = tmp_path / "r.db"
    common = ["--source", f"csv:{csv}", "--db", str(db)]
    assert main(["regime", *common, "--as-of", str(END), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Regime scenarios · {END}") and "<b>" not in out and "&" not in out
    store = Store(db)
    chats = ChatRepo(store)
    chats.ensure(5)
    # P0.1: any percentile above the lowest fires at once, so there is a message to print
    chats.update(5, subscribed=True, lang="en", threshold=0.1)
    code = main(["run-daily", *common, "--as-of", str(END)])
    out = capsys.readouterr().out
    assert code == ExitCode.PENDING  # evaluated; the message waits for a run with a token
    assert "--- NOT SENT to chat 5" in out and "<b>" not in out and "&#39;" not in out


def test_export_writes_the_bots_csv(odd_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "e.db"
    target = tmp_path / "history.csv"
    assert main(["export", "--source", f"csv:{odd_csv}", "--db", str(db), "--csv", str(target)]) == 0
    out = capsys.readouterr().out
    snaps = Store(db).snapshots_between(f"csv:{odd_csv}", date.min, date.max)
    assert snaps and target.read_text(encoding="utf-8") == history_csv(snaps)  # /export's bytes
    assert out.strip() == f"{target}: {len(snaps)} trading days, {snaps[0].as_of} to {snaps[-1].as_of}"
    back = pd.read_csv(target, encoding="utf-8-sig")
    assert back["date"].iloc[-1] == str(END) and back["top5"].iloc[-1].startswith("<R&D> ")
    # without --csv, the same text on stdout; --no-refresh reads the store only
    assert main(["export", "--source", f"csv:{odd_csv}", "--db", str(db), "--no-refresh"]) == 0
    assert capsys.readouterr().out == history_csv(snaps)
    # a bad target is refused before any work
    assert main(["export", "--db", str(tmp_path / "n.db"), "--csv", str(tmp_path / "no" / "h.csv")]) == ExitCode.FILE
    assert "does not exist: create it first" in capsys.readouterr().err
    assert not (tmp_path / "n.db").exists()


def test_export_as_a_process_has_no_traceback_for_a_folder(tmp_path: Path) -> None:
    run = spreadwatch("export", "--db", str(tmp_path / "x.db"), "--csv", str(tmp_path), cwd=tmp_path)
    assert run.code == ExitCode.FILE
    assert one_line_no_traceback(run.err).endswith("is a folder: give a file name, e.g. " + str(tmp_path / "out"))


def test_run_prints_one_startup_summary_without_the_token(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "prices.csv", date(2024, 1, 2), END)
    db = tmp_path / "bot.db"
    store = Store(db)
    for chat_id in (11, 12, 13):
        ChatRepo(store).ensure(chat_id)
        ChatRepo(store).update(chat_id, subscribed=chat_id != 13)
    store.close()
    with FakeBotAPI() as fake:
        config = write_config(
            tmp_path / "config.yaml",
            lang="en",
            data={"source": "csv:prices.csv"},
            storage={"path": "bot.db"},
            telegram={"token_env": "SW_SUMMARY_TOKEN", "base_url": fake.base_url, "admins": [1, 2]},
        )
        env = {**os.environ, "SW_SUMMARY_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            fake.wait_calls("getUpdates", 1, timeout=30)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    host = re.sub(r"^(https?://[^/]+).*$", r"\1", fake.base_url)
    assert out.splitlines()[:5] == [
        "spreadwatch bot starting",
        f"  updates: long polling of the Bot API at {host}",
        f"  store: {db} (2 subscriber(s); latest data none yet)",
        f"  source: csv:{csv} (CSV prices.csv)",
        "  daily job: weekdays at 16:30 Asia/Shanghai; admins: 2",
    ]
    assert out.count("spreadwatch bot starting") == 1
    assert TOKEN not in out + err and TOKEN.split(":")[1] not in out + err


def test_the_webhook_summary_says_where_it_listens(tmp_path: Path) -> None:
    from bot.cli.run_cli import startup_summary

    settings = parse_settings(
        {
            "storage": {"path": str(tmp_path / "w.db")},
            "telegram": {
                "mode": "webhook",
                "webhook_url": f"https://bot.example.org/{TOKEN}/hook",
                "webhook_listen": "0.0.0.0",
                "webhook_port": 8443,
            },
        }
    )
    store = Store(settings.storage.path)
    text = startup_summary(settings, store, TOKEN)
    # the URL's path may carry a token (this one does): masked, as every URL shown (jobs.config.secrets)
    assert "  updates: webhook https://bot.example.org/***/*** (listening on 0.0.0.0:8443; " in text
    assert TOKEN not in text


def test_one_table_of_exit_codes_in_code_help_and_readme() -> None:
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 130] and set(EXIT_MEANINGS) == set(ExitCode)
    help_text = io.StringIO()
    build_parser().print_help(help_text)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(\d+)` \| (.+?) \|$", readme, re.MULTILINE))
    for code, meaning in EXIT_MEANINGS.items():
        assert f"  {int(code)}  {meaning}" in help_text.getvalue()
        assert rows.get(str(int(code))) == meaning, f"README's exit code table, row {int(code)}"
    assert len(rows) == len(EXIT_MEANINGS)


def test_run_daily_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "d.db")
    # the data cannot be fetched: 1, whatever else
    assert main(["run-daily", "--source", f"csv:{tmp_path / 'none.csv'}", "--db", db, "--as-of", str(END)]) == 1
    capsys.readouterr()
    # the data is fine and there is nothing to send: 0 (see also test_daily: 3 when messages wait)
    csv = write_csv(tmp_path / "prices.csv", date(2023, 1, 3), END)
    assert main(["run-daily", "--source", f"csv:{csv}", "--db", db, "--as-of", str(END)]) == 0


def test_command_modules_never_import_the_parser_module() -> None:
    """bot/cli/main.py assembles the parser from the command modules; they share bot/cli/cli_common.py only."""
    modules = [*sorted((REPO / "bot" / "cli").glob("*_cli.py")), REPO / "bot" / "cli" / "cli_common.py"]
    assert len(modules) >= 8
    for path in modules:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)} | {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        assert "bot.cli.main" not in imported, path.name


def test_run_daily_with_a_refused_token_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = write_csv(tmp_path / "prices.csv", date(2023, 1, 3), END)
    db = tmp_path / "t.db"
    chats = ChatRepo(Store(db))
    chats.ensure(5)
    chats.update(5, subscribed=True, lang="en", threshold=0.1)  # a message to send (see above)
    with FakeBotAPI(token="111:the-right-one") as fake:
        config = write_config(
            tmp_path / "config.yaml",
            data={"source": f"csv:{csv}"},
            storage={"path": str(db)},
            telegram={"token_env": "SW_REFUSED_TOKEN", "base_url": fake.base_url},
        )
        monkeypatch.setenv("SW_REFUSED_TOKEN", TOKEN)
        code = main(["run-daily", "--config", str(config), "--as-of", str(END), "--wait", "0"])
    out, err = capsys.readouterr()
    assert code == ExitCode.CONFIG
    assert err.strip().endswith(
        "config error: telegram.token_env: Telegram refused the token in $SW_REFUSED_TOKEN; messages left pending"
    )
    assert TOKEN not in out + err and "Traceback" not in err
    assert [r.status for r in Outbox(Store(db)).rows()] == ["pending"]
