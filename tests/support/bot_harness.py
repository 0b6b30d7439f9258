"""Run the real bot (``bot.telegram.app.build_application``) against the fake Bot API, in a background thread.

    harness = BotHarness(settings_overrides).start()
    calls = harness.ask("/spread", chat_id=42)      # push a command, wait for the bot's answer(s)
    harness.stop()

The bot runs its own event loop in a thread, so tests stay synchronous and wait on the fake server's
records. The store is a copy of one built once per session from the real Shenwan CSV.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.telegram.app import build_application
from jobs.alerting.services import Services
from jobs.config.settings import Settings, parse_settings
from jobs.engine.pipeline import Engine
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from support.fakebot import Call, FakeBotAPI, command_update

SW = Path(__file__).resolve().parents[3] / "shared" / "data" / "sw_l1_daily.csv"
SOURCE = f"csv:{SW}"
TOKEN_ENV = "SPREADWATCH_TEST_BOT_TOKEN"
TOKEN = "123456789:TEST-secret-token-do-not-log"
BOT_USERNAME = "spreadwatch_bot"
ADMIN_ID = 4242
# 18:00 in Shanghai on the CSV's last trading day: after the publish time, so its data is current
FRESH_NOW = datetime(2026, 6, 2, 10, 0, tzinfo=UTC)
# bot tests that are not about the per-chat command limit send dozens of commands from one chat within
# seconds: the harness raises the limit unless a test sets telegram.command_burst / commands_per_minute
UNLIMITED_COMMANDS = {"command_burst": 100, "commands_per_minute": 600}


def wait_until(pred: Callable[[], Any], timeout: float = 30.0) -> None:
    """Poll until ``pred()`` is true (the bot runs in its own thread); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def settings_for(
    db: Path,
    fake: FakeBotAPI,
    source: str = SOURCE,
    data: dict[str, Any] | None = None,
    sections: dict[str, Any] | None = None,
    **telegram: Any,
) -> Settings:
    raw: dict[str, Any] = {
        "lang": "zh",
        "data": {"source": source, **(data or {})},
        "storage": {"path": str(db)},
        "telegram": {
            "token_env": TOKEN_ENV,
            "base_url": fake.base_url,
            "base_file_url": fake.base_file_url,
            "admins": [ADMIN_ID],
            **telegram,
        },
        **(sections or {}),  # other settings sections, e.g. {"ops": {"listen": "127.0.0.1:0"}}
    }
    return parse_settings(raw, "test")


def build_store(path: Path) -> Path:
    """A store filled from the real CSV the way ``spreadwatch backfill`` fills it."""
    settings = parse_settings({"data": {"source": SOURCE}, "storage": {"path": str(path)}}, "test")
    store = Store(path)
    result = Engine(settings, store).update()
    assert result.refresh.ok, result.refresh.message
    store.close()
    return path


class BotHarness:
    def __init__(
        self,
        db: Path,
        clock: Callable[[], datetime] = lambda: FRESH_NOW,
        configure: Callable[[Any, Services], None] | None = None,
        source: str = SOURCE,
        data: dict[str, Any] | None = None,
        sections: dict[str, Any] | None = None,
        **telegram: Any,
    ) -> None:
        self.source = source
        self.data = data
        self.sections = sections
        self.fake = FakeBotAPI(bot_username=BOT_USERNAME)
        self.db = db
        self.clock = clock
        self.telegram = {**UNLIMITED_COMMANDS, **telegram}
        self.configure = configure
        self.services: Services | None = None
        self.application: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._processed: set[int] = set()  # update_ids the application has finished processing
        self._processed_cond = threading.Condition()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> BotHarness:
        self.fake.start()
        os.environ[TOKEN_ENV] = TOKEN
        settings = settings_for(self.db, self.fake, self.source, self.data, self.sections, **self.telegram)
        store = Store(settings.storage.target)  # sections={"storage": {"url": ...}}: PostgreSQL
        self.services = Services(
            settings=settings, store=store, engine=Engine(settings, store), chats=ChatRepo(store), clock=self.clock
        )
        self._thread = threading.Thread(target=self._run, name="bot", daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or self._error is not None:
            raise RuntimeError(f"the bot did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        assert self.services is not None
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = build_application(self.services)
        app.update_processor.on_processed = self._on_processed
        if self.configure is not None:
            self.configure(app, self.services)
        self.application = app
        await app.initialize()
        if app.post_init:
            await app.post_init(app)
        await app.start()
        assert app.updater is not None
        # a short long-poll keeps stop() quick: it waits for the request in flight
        await app.updater.start_polling(poll_interval=0, timeout=0.25)
        self._ready.set()
        await self._stop.wait()
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        if app.post_shutdown:  # as run_polling does: releases what post_init took (the ops server, locks)
            await app.post_shutdown(app)

    def _on_processed(self, update: object) -> None:
        update_id = getattr(update, "update_id", None)
        if isinstance(update_id, int):
            with self._processed_cond:
                self._processed.add(update_id)
                self._processed_cond.notify_all()

    def wait_processed(self, update_id: int, timeout: float = 10.0) -> None:
        with self._processed_cond:
            if not self._processed_cond.wait_for(lambda: update_id in self._processed, timeout):
                raise TimeoutError(f"update {update_id} was not processed within {timeout} s")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.fake.stop()
        os.environ.pop(TOKEN_ENV, None)

    # -- conversation --------------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        """Push an update; returns the index into the call log to wait from."""
        mark = self.fake.call_count()
        self.fake.push(update)
        return mark

    def ask(self, text: str, chat_id: int = 1001, n: int = 1, timeout: float = 10.0, **kw: Any) -> list[Call]:
        mark = self.push(
            command_update(text, chat_id=chat_id, **kw) if text.startswith("/") else _text(text, chat_id, kw)
        )
        return self.fake.wait_sent(n, chat_id=chat_id, since=mark, timeout=timeout)

    def answer(self, update: dict[str, Any], chat_id: int, n: int = 1, timeout: float = 10.0) -> list[Call]:
        mark = self.push(update)
        return self.fake.wait_sent(n, chat_id=chat_id, since=mark, timeout=timeout)

    def silent(self, update: dict[str, Any], chat_id: int, probe_chat: int | None = None) -> list[Call]:
        """Push an update that must get no answer; returns whatever the bot sent to ``chat_id`` while
        processing it (expected: nothing).

        Updates of different chats are processed concurrently, so a reply in another chat proves
        nothing: wait for the application to report this very update processed. ``probe_chat`` is
        accepted for old callers and not needed.
        """
        mark = self.fake.call_count()
        update_id = self.fake.push(update)
        self.wait_processed(update_id)
        return self.fake.sent(chat_id=chat_id, since=mark)


def _text(text: str, chat_id: int, kw: dict[str, Any]) -> dict[str, Any]:
    from support.fakebot import text_update

    return text_update(text, chat_id=chat_id, **kw)


_FILLED: dict[str, Path] = {}


@pytest.fixture(scope="session")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # test modules import this fixture, which gives each module its own "session" fixture: the cache
    # makes the store get built once per test run all the same
    if not SW.exists():
        pytest.skip("shared data not present")
    if "db" not in _FILLED:
        _FILLED["db"] = build_store(tmp_path_factory.mktemp("store") / "filled.db")
    return _FILLED["db"]


@pytest.fixture
def db(filled_db: Path, tmp_path: Path) -> Path:
    """A private copy of the filled store (tests change chats and fetch logs)."""
    target = tmp_path / "bot.db"
    shutil.copyfile(filled_db, target)
    return target


@pytest.fixture
def bot(db: Path) -> Iterator[BotHarness]:
    harness = BotHarness(db).start()
    try:
        yield harness
    finally:
        harness.stop()
