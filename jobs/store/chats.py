"""Chats that talked to the bot: language, subscription, personal threshold, mute, reachability."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from jobs.store.datastore import Store, now_iso

# what a subscriber may choose (/settings buttons and the dashboard's Settings page): a personal threshold
# (None = the configured alerts.enter_percentile) and a mute for a number of days (0 = unmute)
THRESHOLD_CHOICES = (85, 90, 95)
MUTE_CHOICES = (1, 7, 30)


@dataclass(frozen=True)
class Chat:
    chat_id: int
    chat_type: str
    lang: str | None
    threshold: float | None
    muted_until: date | None
    subscribed: bool
    active: bool

    def muted_on(self, day: date) -> bool:
        return self.muted_until is not None and day <= self.muted_until


def _chat_from_row(row: Any) -> Chat:
    return Chat(
        chat_id=int(row["chat_id"]),
        chat_type=row["chat_type"],
        lang=row["lang"],
        threshold=None if row["threshold"] is None else float(row["threshold"]),
        muted_until=date.fromisoformat(row["muted_until"]) if row["muted_until"] else None,
        subscribed=bool(row["subscribed"]),
        active=bool(row["active"]),
    )


class ChatRepo:
    """Chats that talked to the bot: language, subscription, personal threshold, mute, reachability."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, chat_id: int) -> Chat | None:
        row = self.store.connect().execute("SELECT * FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return None if row is None else _chat_from_row(row)

    def ensure(self, chat_id: int, chat_type: str = "private") -> Chat:
        now = now_iso()
        with self.store.transaction() as conn:
            conn.execute(
                """INSERT INTO chats (chat_id, chat_type, created_at, updated_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT(chat_id) DO UPDATE SET chat_type = excluded.chat_type""",
                (chat_id, chat_type, now, now),
            )
        chat = self.get(chat_id)
        assert chat is not None
        return chat

    def update(self, chat_id: int, **fields: Any) -> None:
        allowed = {"lang", "threshold", "muted_until", "subscribed", "active", "chat_type"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"unknown chat fields {sorted(set(fields) - allowed)}")
        values = [
            v.isoformat() if isinstance(v, date) else int(v) if isinstance(v, bool) else v for v in fields.values()
        ]
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE chats SET {sets}, updated_at = ? WHERE chat_id = ?", (*values, now_iso(), chat_id))

    def migrate(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: the chat keeps its settings under the new id."""
        with self.store.transaction() as conn:
            conn.execute("DELETE FROM chats WHERE chat_id = ?", (new_chat_id,))
            conn.execute(
                "UPDATE chats SET chat_id = ?, updated_at = ? WHERE chat_id = ?", (new_chat_id, now_iso(), old_chat_id)
            )

    def subscribers(self) -> list[Chat]:
        rows = (
            self.store.connect()
            .execute("SELECT * FROM chats WHERE subscribed = 1 AND active = 1 ORDER BY chat_id")
            .fetchall()
        )
        return [_chat_from_row(r) for r in rows]
