"""`spreadwatch run` while the Bot API cannot be reached: it retries with backoff, one log line per
attempt and no traceback, and starts once the API answers; a token the API refuses is a one-line
configuration error (exit 2) that does not show the token."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml
from support.bot_harness import SOURCE, TOKEN, db, filled_db  # noqa: F401
from support.fakebot import FakeBotAPI, command_update

TOKEN_ENV = "SW_API_STARTUP_TOKEN"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_for(tmp_path: Path, db_path: Path, fake: FakeBotAPI) -> Path:
    raw = {
        "lang": "en",
        "data": {"source": SOURCE},
        "storage": {"path": str(db_path)},
        "telegram": {"token_env": TOKEN_ENV, "base_url": fake.base_url, "base_file_url": fake.base_file_url},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def attempts(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Bot API not reachable" in line]


def wait_until(pred: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def test_run_waits_for_the_bot_api_then_starts(db: Path, tmp_path: Path) -> None:
    fake = FakeBotAPI(port=free_port())  # not started: nothing listens on its port yet
    config = config_for(tmp_path, db, fake)
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=tmp_path,
            env={**os.environ, TOKEN_ENV: TOKEN},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_until(lambda: len(attempts(stderr_path.read_text(encoding="utf-8"))) >= 2)
            assert proc.poll() is None, "run gave up while the Bot API was down"
            fake.start()
            fake.wait_calls("getUpdates", 1, timeout=30)
            mark = fake.call_count()
            fake.push(command_update("/help", chat_id=77))
            fake.wait_sent(1, chat_id=77, since=mark, timeout=20)
        finally:
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=20)
            fake.stop()
    assert code == 0
    log = stderr_path.read_text(encoding="utf-8")
    lines = attempts(log)
    assert len(lines) >= 2
    assert "attempt 1)" in lines[0] and "attempt 2)" in lines[1]
    assert "Traceback" not in log
    assert TOKEN not in log and TOKEN.split(":")[1] not in log


def test_a_refused_token_is_a_one_line_error_with_exit_2(db: Path, tmp_path: Path) -> None:
    with FakeBotAPI(token="999:the-right-token") as fake:
        config = config_for(tmp_path, db, fake)
        proc = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=tmp_path,
            env={**os.environ, TOKEN_ENV: TOKEN},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "telegram.token_env" in lines[0] and TOKEN_ENV in lines[0] and "401" in lines[0]
    assert TOKEN not in proc.stderr and TOKEN.split(":")[1] not in proc.stderr
