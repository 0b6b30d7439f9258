"""``notify.destinations`` as subscribers: each is a ``chats`` row (chat_type ``notify``) under an id
of a reserved range, so the daily job's rules, personal threshold, language, mute, audit log and
outbox keys apply to it exactly as to a Telegram chat.

Ids are allocated downward from :data:`NOTIFY_ID_BASE`, far below Telegram's (a supergroup's id is
about -10^12), and kept per name in ``destinations``: a destination removed and added again gets its
old id back, so its alert state and outbox keys still hold.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from jobs.config.notify_settings import Destination, NotifySettings, redact
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store
from jobs.store.outbox import NOTIFY_ID_BASE, Outbox

log = logging.getLogger(__name__)

NOTIFY_CHAT_TYPE = "notify"
MUTED_FOREVER = date(9999, 12, 31)


def is_notify_chat(chat_id: int) -> bool:
    return chat_id <= NOTIFY_ID_BASE


@dataclass(frozen=True)
class DestinationState:
    name: str
    chat_id: int
    failures: int
    paused: bool
    last_error: str | None


class DestinationRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    def all(self) -> list[DestinationState]:
        rows = self.store.connect().execute("SELECT * FROM destinations ORDER BY chat_id DESC").fetchall()
        return [
            DestinationState(r["name"], int(r["chat_id"]), int(r["failures"]), bool(r["paused"]), r["last_error"])
            for r in rows
        ]

    def get(self, name: str) -> DestinationState | None:
        return next((d for d in self.all() if d.name == name), None)

    def chat_id(self, name: str) -> int:
        """The destination's id, allocated on first use."""
        with self.store.transaction() as conn:
            row = conn.execute("SELECT chat_id FROM destinations WHERE name = ?", (name,)).fetchone()
            if row is not None:
                return int(row[0])
            low = conn.execute("SELECT MIN(chat_id) FROM destinations").fetchone()[0]
            chat_id = NOTIFY_ID_BASE if low is None else int(low) - 1
            conn.execute("INSERT INTO destinations (name, chat_id) VALUES (?, ?)", (name, chat_id))
            return chat_id

    def record_failure(self, name: str, error: str, pause_after: int) -> bool:
        """Count one failed send; True when this failure paused the destination (it was not before)."""
        with self.store.transaction() as conn:
            before = conn.execute("SELECT paused FROM destinations WHERE name = ?", (name,)).fetchone()
            conn.execute(
                """UPDATE destinations SET failures = failures + 1, last_error = ?,
                   paused = CASE WHEN failures + 1 >= ? THEN 1 ELSE paused END WHERE name = ?""",
                (error[:500], pause_after, name),
            )
            after = conn.execute("SELECT paused FROM destinations WHERE name = ?", (name,)).fetchone()
        return before is not None and not before[0] and bool(after[0])

    def record_success(self, name: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE destinations SET failures = 0, last_error = NULL WHERE name = ?", (name,))

    def resume(self, name: str) -> None:
        with self.store.transaction() as conn:
            conn.execute("UPDATE destinations SET failures = 0, paused = 0 WHERE name = ?", (name,))


@dataclass(frozen=True)
class Resumed:
    name: str
    was_paused: bool
    released: int  # its pending rows, due at once


def resume_destination(store: Store, name: str) -> Resumed | None:
    """An admin's resume (``/destinations resume``, ``spreadwatch notify-resume``, an accepted
    ``notify-test``): failures cleared, not paused, its held rows due now (the next drain sends them).
    None when no destination of that name was ever synchronised."""
    repo = DestinationRepo(store)
    state = repo.get(name)
    if state is None:
        return None
    repo.resume(name)
    released = Outbox(store).release_chat(state.chat_id)
    if state.paused:
        log.info("destination %s resumed; %d held message(s) due now", name, released)
    return Resumed(name, state.paused, released)


@dataclass(frozen=True)
class DestinationView:
    """One destination as an admin sees it: never its URL's secret."""

    name: str
    scheme: str
    paused: bool
    failures: int
    last_error: str | None
    pending: int


def destination_views(store: Store, notify: NotifySettings, environ: Any = None) -> list[DestinationView]:
    """The configured destinations with their delivery state, for ``/destinations``."""
    states = {s.name: s for s in DestinationRepo(store).all()}
    outbox = Outbox(store)
    views = []
    for d in notify.destinations:
        state = states.get(d.name)
        pending = len(outbox.rows("pending", state.chat_id)) if state is not None else 0
        error = redact(state.last_error, d.url, environ) if state is not None and state.last_error else None
        views.append(
            DestinationView(
                name=d.name,
                scheme=d.url.split("://", 1)[0],
                paused=state is not None and state.paused,
                failures=state.failures if state is not None else 0,
                last_error=error,
                pending=pending,
            )
        )
    return views


def excluded_chats(store: Store, notify: NotifySettings, rule_id: str) -> frozenset[int]:
    """The destinations whose ``rules:`` leave ``rule_id`` out: the rule is not evaluated for them at
    all (no state, no audit log, no outbox row), as if they had not subscribed to it."""
    names = {d.name for d in notify.destinations if not d.receives(rule_id)}
    if not names:
        return frozenset()
    return frozenset(s.chat_id for s in DestinationRepo(store).all() if s.name in names)


def _apply(chats: ChatRepo, chat_id: int, d: Destination) -> None:
    chats.ensure(chat_id, NOTIFY_CHAT_TYPE)
    chats.update(
        chat_id,
        lang=d.lang,
        threshold=d.threshold,
        muted_until=MUTED_FOREVER if d.mute else None,
        subscribed=True,
        active=True,
    )


def sync_destinations(store: Store, notify: NotifySettings) -> dict[str, int]:
    """Make the subscribers match the config: configured destinations subscribed with their settings,
    removed ones unsubscribed and their unsent rows dead (nothing could send them). Returns name -> id."""
    repo, chats = DestinationRepo(store), ChatRepo(store)
    ids = {d.name: repo.chat_id(d.name) for d in notify.destinations}
    for d in notify.destinations:
        _apply(chats, ids[d.name], d)
    for known in repo.all():
        if known.name in ids:
            continue
        chat = chats.get(known.chat_id)
        if chat is not None and chat.subscribed:
            chats.update(known.chat_id, subscribed=False, active=False)
            dropped = Outbox(store).drop_chat(known.chat_id, "destination removed from notify.destinations")
            log.info(
                "destination %s removed from the config: unsubscribed (%d unsent rows dropped)", known.name, dropped
            )
    return ids
