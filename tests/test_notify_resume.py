"""Resuming a paused destination: ``spreadwatch notify-resume NAME`` and the admins'
``/destinations`` (list) and ``/destinations resume NAME`` in the bot. A resume clears the failures and
the pause, and the held messages go out with the next drain, not after their backoff."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import yaml
from support.bot_harness import ADMIN_ID, BotHarness, db, filled_db, wait_until  # noqa: F401
from support.notify_receiver import receiver

from bot.cli.main import main
from jobs.alerting.apprise_delivery import NotifySender
from jobs.alerting.destinations import DestinationRepo, destination_views, resume_destination, sync_destinations
from jobs.config.notify_settings import Destination, NotifySettings, redact
from jobs.store.datastore import Store
from jobs.store.outbox import Outbox

DAY = date(2025, 2, 14)
SECRET = "hooksecretvalue0123"


def held(store: Store, chat_id: int, name: str, failures: int = 2) -> int:
    """A row of ``chat_id`` put back for an hour after a failed send, and the destination paused."""
    outbox = Outbox(store)
    with store.transaction() as conn:
        outbox.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=chat_id, parts=["held <b>1</b>"])
    (row,) = outbox.rows(chat_id=chat_id)
    assert outbox.claim(row.id, "w", 60.0) is not None
    outbox.retry_later(row.id, "w", 3600.0, f"{name}: HTTP 503")
    repo = DestinationRepo(store)
    for _ in range(failures):
        repo.record_failure(name, f"HTTP 503 from /{SECRET}", failures)
    return row.id


async def test_a_resumed_destination_gets_its_held_rows_at_the_next_drain(tmp_path: Path) -> None:
    with receiver() as rx:
        store = Store(tmp_path / "s.db")
        settings = NotifySettings(destinations=(Destination(name="desk", url=rx.url()),), pause_after_failures=2)
        chat_id = sync_destinations(store, settings)["desk"]
        held(store, chat_id, "desk")
        assert (await NotifySender(Outbox(store), settings).drain()).sent == 0  # paused, and not due anyway
        resumed = resume_destination(store, "desk")
        assert resumed is not None and (resumed.was_paused, resumed.released) == (True, 1)
        state = DestinationRepo(store).get("desk")
        assert state is not None and not state.paused and state.failures == 0
        stats = await NotifySender(Outbox(store), settings).drain()
        assert stats.sent == 1 and [json.loads(b)["message"] for b in rx.delivered] == ["held 1"]
    assert resume_destination(store, "nobody") is None


def test_the_last_error_is_shown_without_the_urls_secrets(tmp_path: Path) -> None:
    url = "json://127.0.0.1:9/${SW_TEST_HOOK}"
    assert redact(f"HTTP 503 from /{SECRET}", url, {"SW_TEST_HOOK": SECRET}) == "HTTP 503 from /***"
    literal = f"json://127.0.0.1:9/{SECRET}"
    assert SECRET not in redact(f"failed: {literal}", literal)
    store = Store(tmp_path / "s.db")
    settings = NotifySettings(destinations=(Destination(name="desk", url=url),), pause_after_failures=2)
    held(store, sync_destinations(store, settings)["desk"], "desk")
    (view,) = destination_views(store, settings, {"SW_TEST_HOOK": SECRET})
    assert (view.name, view.scheme, view.paused, view.failures, view.pending) == ("desk", "json", True, 2, 1)
    assert view.last_error == "HTTP 503 from /***"


def test_notify_resume_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = tmp_path / "s.db"
    config = tmp_path / "config.yaml"
    notify = {"destinations": [{"name": "desk", "url": "json://127.0.0.1:9/x"}], "pause_after_failures": 2}
    config.write_text(yaml.safe_dump({"storage": {"path": str(db_path)}, "notify": notify}), encoding="utf-8")
    store = Store(db_path)
    held(store, sync_destinations(store, NotifySettings.model_validate(notify))["desk"], "desk")

    assert main(["notify-resume", "desk", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("desk: resumed; 1 held message(s) go out with the next delivery")
    state = DestinationRepo(store).get("desk")
    assert state is not None and not state.paused
    assert main(["notify-resume", "desk", "--config", str(config)]) == 0
    assert capsys.readouterr().out == "desk: not paused; 1 pending message(s)\n"
    assert main(["notify-resume", "zz", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "NAME: no destination named 'zz' in notify.destinations (desk)" in err and "Traceback" not in err


def test_destinations_command_lists_and_resumes_for_admins(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SW_TEST_HOOK", SECRET)
    with receiver() as rx:
        notify = {
            "destinations": [{"name": "desk", "url": rx.url(path="${SW_TEST_HOOK}"), "lang": "en"}],
            "pause_after_failures": 2,
            "per_destination_interval_s": 0,
        }
        harness = BotHarness(db, sections={"notify": notify}).start()
        try:
            services = harness.services
            assert services is not None
            state = DestinationRepo(services.store).get("desk")
            assert state is not None
            held(services.store, state.chat_id, "desk")

            (refused,) = harness.ask("/destinations", chat_id=1301, language_code="en")
            assert "admins only" in refused.params["text"]
            (listed,) = harness.ask("/destinations", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
            text = listed.params["text"]
            assert "<b>desk</b> (<code>json</code>): ⏸ <b>paused</b> · 2 failure(s) in a row · 1 waiting" in text
            assert "HTTP 503 from /***" in text and SECRET not in text
            (unknown,) = harness.ask("/destinations resume zz", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
            assert "No destination named <b>zz</b>. Configured: desk." in unknown.params["text"]
            assert rx.delivered == []

            (done,) = harness.ask("/destinations resume desk", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
            assert "<b>desk</b> resumed: 1 waiting message(s) go out now." in done.params["text"]
            wait_until(lambda: len(rx.delivered) == 1)
            assert json.loads(rx.delivered[0])["message"] == "held 1"
            (after,) = harness.ask("/destinations", chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en")
            assert "<b>desk</b> (<code>json</code>): active · 0 failure(s) in a row · 0 waiting" in after.params["text"]
        finally:
            harness.stop()
