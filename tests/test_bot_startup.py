"""`spreadwatch run` as a process: ready (first getUpdates) quickly, akshare never imported, clean stop."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from bot_harness import SOURCE, TOKEN, db, filled_db  # noqa: F401
from fakebot import FakeBotAPI, command_update

from bot.cli import main


def write_config(path: Path, db_path: Path, fake: FakeBotAPI | None, token_env: str) -> Path:
    telegram: dict[str, object] = {"token_env": token_env}
    if fake is not None:
        telegram.update(base_url=fake.base_url, base_file_url=fake.base_file_url)
    raw = {"lang": "en", "data": {"source": SOURCE}, "storage": {"path": str(db_path)}, "telegram": telegram}
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_run_is_ready_fast_without_akshare_and_stops_cleanly(db: Path, tmp_path: Path) -> None:
    with FakeBotAPI() as fake:
        config = write_config(tmp_path / "config.yaml", db, fake, "SW_STARTUP_TOKEN")
        env = {**os.environ, "SW_STARTUP_TOKEN": TOKEN, "PYTHONPROFILEIMPORTTIME": "1"}
        stderr_path = tmp_path / "stderr.txt"
        with stderr_path.open("w") as stderr:
            started = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            try:
                (first,) = fake.wait_calls("getUpdates", 1, timeout=30)[:1]
                ready_s = first.time - started
                assert [c.method for c in fake.calls()][:1] == ["getMe"]
                # start-up target is 3 s with a populated store; the test allows for a busy machine
                assert ready_s < 8, f"first getUpdates after {ready_s:.2f} s"
                mark = fake.call_count()
                fake.push(command_update("/spread", chat_id=77))
                (answer,) = fake.wait_sent(1, chat_id=77, since=mark, timeout=20)
                assert "Industry differentiation" in answer.params["text"]
                assert fake.commands("en") and fake.commands("")  # the menu in both languages
            finally:
                proc.send_signal(signal.SIGINT)
                code = proc.wait(timeout=20)
        assert code == 0
        log = stderr_path.read_text(encoding="utf-8")
        imported = [line for line in log.splitlines() if line.startswith("import time:")]
        assert imported, "import profiling did not run"
        assert not [line for line in imported if "akshare" in line.split("|")[-1]]
        assert TOKEN not in log and TOKEN.split(":")[1] not in log


def test_run_without_token_names_the_variable(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ.pop("SW_MISSING_TOKEN", None)
    config = write_config(tmp_path / "config.yaml", db, None, "SW_MISSING_TOKEN")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "SW_MISSING_TOKEN" in err and "telegram.token_env" in err
