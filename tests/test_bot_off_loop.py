"""Handlers' database work does not hold up the bot: while another writer (a large batch save) holds
SQLite's write lock, a /subscribe that has to write waits for it, and meanwhile another chat's command
is answered (it could not be if the waiting write blocked the event loop, or if the other chat's update
were queued behind it). No timing threshold: the lock is released only after
those answers have arrived, so they cannot have waited for it."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.bot_harness import BotHarness, bot, db, filled_db  # noqa: F401
from support.fakebot import command_update

WRITER, OTHER = 5001, 5002


@pytest.fixture
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """A second connection that holds the write lock, as a long batch save in another thread does."""
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def test_a_handler_waiting_for_the_write_lock_holds_up_no_one(bot: BotHarness, write_lock: sqlite3.Connection) -> None:
    assert bot.services is not None
    write_lock.execute("BEGIN IMMEDIATE")  # the "batch save" starts and holds the lock
    write_lock.execute("INSERT INTO meta (key, value) VALUES ('batch-save', 'in progress')")
    mark = bot.fake.call_count()
    bot.fake.push(command_update("/subscribe", chat_id=WRITER))  # must write: waits for the lock
    # another chat's command, pushed after it, is answered while the lock is still held
    (answer,) = bot.ask("/spread", chat_id=OTHER)
    assert "Industry differentiation" in answer.params["text"]
    assert not bot.fake.sent(chat_id=WRITER, since=mark), "/subscribe cannot have written yet"

    write_lock.execute("COMMIT")  # the save finishes: /subscribe gets its write and answers
    (subscribed,) = bot.fake.wait_sent(1, chat_id=WRITER, since=mark, timeout=20)
    assert subscribed.params["text"]
    chat = bot.services.chats.get(WRITER)
    assert chat is not None and chat.subscribed
