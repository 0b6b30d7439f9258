"""run-daily delivers to notify.destinations without a bot token, exactly once across runs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from support.alerting_support import SW
from support.notify_receiver import receiver

from bot.cli.main import main
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox


def test_run_daily_delivers_the_p90_alert_to_a_json_destination_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not SW.exists():
        pytest.skip("shared data not present")
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    db = tmp_path / "s.db"
    with receiver() as rx:
        config = tmp_path / "config.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "storage": {"path": str(db)},
                    "notify": {"destinations": [{"name": "desk", "url": rx.url(path="alerts"), "lang": "en"}]},
                }
            ),
            encoding="utf-8",
        )
        argv = ["run-daily", "--config", str(config), "--as-of", "2025-02-14", "--source", f"csv:{SW}"]
        assert main(argv) == 0  # first evaluation: nothing left pending
        out = capsys.readouterr().out
        assert "1 message(s) queued" in out and "destinations: 1 sent" in out
        assert main(argv) == 0
        assert "destinations: 0 sent" in capsys.readouterr().out
    (body,) = rx.bodies
    payload = json.loads(body)
    message = payload["message"]
    (chart,) = payload["attachments"]  # json:// takes attachments: the spread chart as of the alert's day
    assert chart["filename"] == "spread-2025-02-14.png" and chart["mimetype"] == "image/png"
    assert base64.b64decode(chart["base64"]).startswith(b"\x89PNG")
    assert "Differentiation alert · 2025-02-14" in message and "54.0%" in message and "P94" in message
    assert "<b>" not in message  # plain text, not Telegram's HTML
    assert [r.status for r in Outbox(Store(db)).rows()] == ["sent"]
