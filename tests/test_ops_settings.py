"""ops.listen: off by default, validated with one line naming the key, and a port in use stops
`spreadwatch run` with one line (exit 2) instead of a traceback."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from support.fakebot import FakeBotAPI

from bot.cli.main import main
from jobs.config.settings import Settings, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def test_ops_is_off_by_default_and_in_the_example() -> None:
    assert Settings().ops.address is None
    example, _ = load_settings(REPO / "config.example.yaml")
    assert example.ops.address is None
    assert "such as 127.0.0.1:9108" in (REPO / "config.example.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("listen", "address"),
    [("127.0.0.1:9108", ("127.0.0.1", 9108)), ("[::1]:9108", ("::1", 9108)), ("0.0.0.0:0", ("0.0.0.0", 0))],
)
def test_listen_takes_host_and_port(listen: str, address: tuple[str, int]) -> None:
    assert parse_settings({"ops": {"listen": listen}}).ops.address == address


@pytest.mark.parametrize("listen", ["9108", "localhost", "127.0.0.1:", ":9108", "127.0.0.1:70000", "127.0.0.1:x"])
def test_a_bad_listen_stops_check_config_with_one_line_naming_the_key(
    listen: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"ops:\n  listen: '{listen}'\n", encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    expected = "expected HOST:PORT such as 127.0.0.1:9108 (port 0: any free port)"
    assert err == f"config error: ops.listen: {expected} (got {listen!r})"


def test_a_port_in_use_stops_run_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    monkeypatch.setenv("SPREADWATCH_OPS_TEST_TOKEN", "123:secret-ops-token")
    try:
        with FakeBotAPI() as fake:
            cfg = tmp_path / "config.yaml"
            cfg.write_text(
                f"storage: {{path: '{tmp_path / 's.db'}'}}\n"
                f"telegram: {{token_env: SPREADWATCH_OPS_TEST_TOKEN, base_url: '{fake.base_url}', "
                f"base_file_url: '{fake.base_file_url}'}}\n"
                f"ops: {{listen: '127.0.0.1:{port}'}}\n",
                encoding="utf-8",
            )
            assert main(["run", "--config", str(cfg)]) == 2
    finally:
        busy.close()
    err = capsys.readouterr().err.strip()
    assert err == f"config error: ops.listen: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "secret-ops-token" not in err
    assert os.environ["SPREADWATCH_OPS_TEST_TOKEN"]  # untouched
