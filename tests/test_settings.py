"""Settings: the example file loads; a wrong value stops check-config with one line naming the key."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from bot.cli.main import main
from jobs.config.settings import Settings, load_settings, resolve_paths

REPO = Path(__file__).resolve().parents[1]
SECRET = "123456789:AAH-not-a-real-token-but-secret"


def test_the_example_config_loads() -> None:
    settings, path = load_settings(REPO / "config.example.yaml")
    assert path == REPO / "config.example.yaml"
    assert settings.data.source == "akshare" and settings.data.revision_window_days == 20
    assert settings.metric.window == "6M" and settings.metric.top_k == 5
    assert settings.metric.history_start == date(2010, 1, 1)
    assert settings.schedule.timezone == "Asia/Shanghai" and settings.schedule.daily_time == time(16, 30)
    assert settings.alerts.enter_percentile == 90 and settings.alerts.resolve_percentile == 80
    assert settings.telegram.token_env == "TELEGRAM_BOT_TOKEN"


def test_the_example_shows_the_defaults_of_the_core_sections() -> None:
    example, _ = load_settings(REPO / "config.example.yaml")
    defaults = resolve_paths(Settings(), REPO)  # the example's relative paths are read from its folder
    for section in ("metric", "storage", "schedule", "alerts"):
        assert getattr(example, section) == getattr(defaults, section), section


def test_no_config_file_means_built_in_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings, path = load_settings()
    assert path is None and settings.data.source == "sample" and settings.is_default_source


BAD = {
    "alerts.enter_percentile": "alerts:\n  enter_percentile: 120\n",
    "data.source": "data:\n  source: ftp:x\n",
    "metric.window": "metric:\n  window: 6X\n",
    "schedule.timezone": "schedule:\n  timezone: Mars/Base\n",
    "data.sorce": "data:\n  sorce: akshare\n",
    "colour": "colour: red\n",
    "alerts": "alerts:\n  resolve_percentile: 95\n",
    "schedule.daily_time": "schedule:\n  daily_time: '25:99'\n",
    "metric.top_k": "metric:\n  top_k: 0\n",
    "data.revision_window_days": "data:\n  revision_window_days: -1\n",
    "telegram: webhook_url": "telegram:\n  mode: webhook\n",
    "lang": "lang: fr\n",
    "not valid YAML": "data: [\n",
    "expected a mapping": "- just\n- a list\n",
}


@pytest.mark.parametrize("key", list(BAD))
def test_a_wrong_value_stops_check_config_with_one_line_naming_the_key(
    key: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(BAD[key], encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("config error: ")
    assert key in lines[0]


def test_the_message_says_what_was_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("data:\n  source: ftp:x\n", encoding="utf-8")
    main(["check-config", "--config", str(cfg)])
    err = capsys.readouterr().err.strip()
    assert err == "config error: data.source: expected 'sample', 'akshare' or 'csv:PATH' (got 'ftp:x')"


def test_a_missing_config_file_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_a_wrong_command_line_override_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--source", "ftp:x", "--db", str(tmp_path / "x.db")]) == 2
    assert "data.source" in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()  # nothing was opened


def test_the_token_is_never_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_BOT_TOKEN", SECRET)
    cfg = tmp_path / "c.yaml"
    cfg.write_text("telegram:\n  token_env: MY_BOT_TOKEN\n", encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert "$MY_BOT_TOKEN: set" in out
    assert SECRET not in out + err
    settings, _ = load_settings(cfg)
    assert settings.bot_token() == SECRET
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()

    # a token pasted into the file by mistake is refused without being echoed back
    cfg.write_text(f"telegram:\n  token: '{SECRET}'\n", encoding="utf-8")
    assert main(["check-config", "--config", str(cfg)]) == 2
    out, err = capsys.readouterr()
    assert "telegram.token" in err and SECRET not in out + err


def test_an_unset_token_is_reported_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "built-in defaults" in out and "$TELEGRAM_BOT_TOKEN: NOT set" in out
