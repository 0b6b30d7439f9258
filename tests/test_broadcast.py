"""telegram.broadcast: channels by id or @username get every alert as subscribers of their own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.alerting_support import SW, TOKEN
from support.fakebot import FakeBotAPI

from bot.cli.main import main
from jobs.alerting.broadcast_chats import sync_broadcast
from jobs.config.settings import ConfigError, parse_settings
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store


def test_broadcast_entries_are_ids_or_usernames() -> None:
    raw = {"telegram": {"broadcast": ["@my_channel", -1001234567890]}}
    assert parse_settings(raw).telegram.broadcast == ("@my_channel", "-1001234567890")
    with pytest.raises(ConfigError, match=r"^config error: telegram\.broadcast: expected chat ids"):
        parse_settings({"telegram": {"broadcast": ["my channel"]}})


def test_a_chat_removed_from_the_list_is_unsubscribed_unless_a_name_could_not_be_resolved(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    sync_broadcast(store, [-1001, -1002])
    sync_broadcast(store, [-1001], complete=False)  # a @name failed: nobody is dropped
    assert [c.chat_id for c in ChatRepo(store).subscribers()] == [-1002, -1001]
    sync_broadcast(store, [-1001])
    assert [c.chat_id for c in ChatRepo(store).subscribers()] == [-1001]
    chat = ChatRepo(store).get(-1001)
    assert chat is not None and chat.chat_type == "channel"


def test_run_daily_sends_the_alert_to_broadcast_channels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not SW.exists():
        pytest.skip("shared data not present")
    db = tmp_path / "s.db"
    with FakeBotAPI() as fake:
        fake.usernames["@sw_alerts"] = -1007770001
        config = tmp_path / "config.yaml"
        telegram = {"token_env": "SW_TEST_TOKEN", "base_url": fake.base_url, "broadcast": ["@sw_alerts", "-1007770002"]}
        config.write_text(yaml.safe_dump({"telegram": telegram, "storage": {"path": str(db)}}), encoding="utf-8")
        monkeypatch.setenv("SW_TEST_TOKEN", TOKEN)
        argv = ["run-daily", "--config", str(config), "--as-of", "2025-02-14", "--source", f"csv:{SW}", "--wait", "5"]
        assert main(argv) == 0
        for chat_id in (-1007770001, -1007770002):
            (sent,) = fake.sent(chat_id=chat_id, method="sendMessage")
            assert "54.0%" in sent.params["text"]
    capsys.readouterr()
