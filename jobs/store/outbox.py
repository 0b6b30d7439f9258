"""The durable outbox: one row per message (part) per chat, written with the state change that caused it.

Row life cycle::

    pending --claim--> sending --Telegram accepted--> sent
       ^                  |----transient error------> pending (next_attempt_at = now + backoff)
       |                  |----bad request / too many attempts--> failed   (never retried)
       +-- lease expired -+----blocked, kicked, chat gone-------> dead     (the chat is inactive)

* The idempotency key (rule, tier, kind, trading date, chat, part) is UNIQUE: enqueueing the same
  message twice is a no-op, so a re-run of a day can never queue a second copy.
* ``claim`` is a conditional UPDATE of a row selected ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: of
  two senders (or two instances) racing for a row exactly one gets it, and neither waits.
* A claim is a lease: a sender that dies while holding a row leaves it ``sending``; once the lease
  expires another sender (or the restarted one) takes it again. A live sender renews its lease
  (``renew``, conditional on still holding it) right before each send, and skips the row if that
  fails: a pause longer than the lease (a flood wait) can never make two senders send one row.
* ``attempts`` counts sends, not claims: ``renew``, right before the request, counts it. A row
  stranded by a crash before its request (or handed back by a sender that was stopped, ``release``)
  has not used up a try.
  The one unavoidable window is a crash after Telegram accepted a message and before ``mark_sent``
  committed (a few milliseconds: the row is marked in its own tiny transaction right after the
  answer); that message is sent again.

Times are Unix seconds (REAL) so that due-ness is a plain numeric comparison.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar

from jobs.store.datastore import Store, now_iso
from jobs.store.db import Connection, ConnectionLost

log = logging.getLogger(__name__)
T = TypeVar("T")


def _again_if_lost(step: Callable[[], T]) -> T:
    """A sender's one-row step, run once more on a new connection when the database server went away in
    the middle of it (a PostgreSQL restart). Each step is a conditional UPDATE: if the first run did
    commit, the second finds the row changed and does nothing (a mark then reads as ``unmarked``)."""
    try:
        return step()
    except ConnectionLost as exc:
        log.warning("%s; running the outbox step again", exc)
        return step()

STATUSES = ("pending", "sending", "sent", "failed", "dead")
# chat ids at or below this are notify.destinations (jobs.alerting.destinations), sent by
# jobs.alerting.apprise_delivery; above it, Telegram chats sent by bot.telegram.delivery: each sender
# picks only its own rows
NOTIFY_ID_BASE = -9_000_000_000_000_000
Target = Literal["telegram", "notify"] | None


def _target_sql(target: Target) -> tuple[str, tuple[int, ...]]:
    if target is None:
        return "", ()
    return ("AND chat_id > ?" if target == "telegram" else "AND chat_id <= ?"), (NOTIFY_ID_BASE,)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    rule_id: str
    tier: int
    kind: str
    day: date
    chat_id: int
    part: int
    text: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    message_id: int | None

    @property
    def key(self) -> tuple[str, int, str, date, int, int]:
        return (self.rule_id, self.tier, self.kind, self.day, self.chat_id, self.part)


def _row(r: Any) -> OutboxRow:
    return OutboxRow(
        id=int(r["id"]),
        rule_id=r["rule_id"],
        tier=int(r["tier"]),
        kind=r["kind"],
        day=date.fromisoformat(r["day"]),
        chat_id=int(r["chat_id"]),
        part=int(r["part"]),
        text=r["text"],
        status=r["status"],
        attempts=int(r["attempts"]),
        next_attempt_at=float(r["next_attempt_at"]),
        last_error=r["last_error"],
        message_id=None if r["message_id"] is None else int(r["message_id"]),
    )


class Outbox:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    # -- writing (inside the caller's transaction) ---------------------------------------------
    def enqueue(
        self,
        conn: Connection,
        *,
        rule_id: str,
        tier: int,
        kind: str,
        day: date,
        chat_id: int,
        parts: Sequence[str],
        log_id: int | None = None,
    ) -> int:
        """Queue ``parts`` (one message split at Telegram's limit) for a chat; returns rows added."""
        now, created = self.clock(), now_iso()
        added = 0
        for i, text in enumerate(parts):
            cur = conn.execute(
                """INSERT INTO outbox (rule_id, tier, kind, day, chat_id, part, text, next_attempt_at,
                   log_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING""",
                (rule_id, tier, kind, day.isoformat(), chat_id, i, text, now, log_id, created),
            )
            added += cur.rowcount
        return added

    # -- reading -------------------------------------------------------------------------------
    def due(
        self, limit: int = 100, now: float | None = None, exclude: Sequence[int] = (), target: Target = None
    ) -> list[OutboxRow]:
        """Rows a sender may claim now, oldest first (pending and due, or claimed with an expired lease)."""
        now = self.clock() if now is None else now
        skip = f"AND id NOT IN ({','.join('?' * len(exclude))})" if exclude else ""
        only, only_args = _target_sql(target)
        rows = (
            self.store.connect()
            .execute(
                f"""SELECT * FROM outbox
                WHERE ((status = 'pending' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until < ?))
                {skip} {only} ORDER BY id LIMIT ?""",
                (now, now, *exclude, *only_args, limit),
            )
            .fetchall()
        )
        return [_row(r) for r in rows]

    def next_due_at(self, target: Target = None, exclude_chats: Sequence[int] = ()) -> float | None:
        """When the earliest unfinished row becomes claimable (pending or leased), if any."""
        only, only_args = _target_sql(target)
        skip = f"AND chat_id NOT IN ({','.join('?' * len(exclude_chats))})" if exclude_chats else ""
        row = (
            self.store.connect()
            .execute(
                f"""SELECT MIN(CASE status WHEN 'pending' THEN next_attempt_at ELSE lease_until END)
                   FROM outbox WHERE status IN ('pending', 'sending') {only} {skip}""",
                (*only_args, *exclude_chats),
            )
            .fetchone()
        )
        return None if row is None or row[0] is None else float(row[0])

    def rows(self, status: str | None = None, chat_id: int | None = None) -> list[OutboxRow]:
        sql, args = "SELECT * FROM outbox WHERE 1 = 1", list[object]()
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        if chat_id is not None:
            sql += " AND chat_id = ?"
            args.append(chat_id)
        return [_row(r) for r in self.store.connect().execute(sql + " ORDER BY id", args).fetchall()]

    def counts(self, target: Target = None) -> dict[str, int]:
        only, only_args = _target_sql(target)
        got = dict(
            self.store.connect()
            .execute(f"SELECT status, COUNT(*) FROM outbox WHERE 1 = 1 {only} GROUP BY status", only_args)
            .fetchall()
        )
        return {s: int(got.get(s, 0)) for s in STATUSES}

    def left_for_later(self, worker: str, target: Target = None) -> int:
        """Unfinished rows after a drain by ``worker``: pending ones, and claimed ones that are its own or
        whose lease ran out. A row another live sender holds is :meth:`in_flight_elsewhere`."""
        only, only_args = _target_sql(target)
        row = (
            self.store.connect()
            .execute(
                f"""SELECT COUNT(*) FROM outbox WHERE (status = 'pending'
                    OR (status = 'sending' AND (claimed_by = ? OR lease_until < ?))) {only}""",
                (worker, self.clock(), *only_args),
            )
            .fetchone()
        )
        return int(row[0])

    def in_flight_elsewhere(self, worker: str, target: Target = None) -> tuple[int, float | None]:
        """Rows under another sender's unexpired lease (another instance sending them, or a sender that
        died holding them: nobody can tell which until the lease runs out), and when the last of those
        leases runs out (Unix seconds), if any."""
        only, only_args = _target_sql(target)
        row = (
            self.store.connect()
            .execute(
                f"""SELECT COUNT(*), MAX(lease_until) FROM outbox WHERE status = 'sending'
                    AND (claimed_by IS NULL OR claimed_by <> ?) AND lease_until >= ? {only}""",
                (worker, self.clock(), *only_args),
            )
            .fetchone()
        )
        return int(row[0]), None if row[1] is None else float(row[1])

    def expired_leases(self) -> int:
        """Rows left ``sending`` by a sender whose lease ran out: it died (or hung) holding them."""
        row = (
            self.store.connect()
            .execute("SELECT COUNT(*) FROM outbox WHERE status = 'sending' AND lease_until < ?", (self.clock(),))
            .fetchone()
        )
        return int(row[0])

    # -- the sender's side ---------------------------------------------------------------------
    def _claim(self, row_id: int, worker: str, lease_s: float) -> OutboxRow | None:
        """Take a row for sending; None when another sender has it (or it is no longer due)."""
        now = self.clock()
        skip_locked = self.store.db.skip_locked
        with self.store.transaction(exclusive=False) as conn:
            r = conn.execute(
                f"""UPDATE outbox SET status = 'sending', claimed_by = ?, lease_until = ?
                   WHERE id = (SELECT id FROM outbox WHERE id = ? AND ((status = 'pending' AND next_attempt_at <= ?)
                                     OR (status = 'sending' AND lease_until < ?)){skip_locked})
                   RETURNING *""",
                (worker, now + lease_s, row_id, now, now),
            ).fetchone()
        return None if r is None else _row(r)

    def _renew(self, row_id: int, worker: str, lease_s: float) -> int | None:
        """Extend this sender's lease right before it sends, and count the send; returns the row's
        attempts including this one. None when the row is no longer its own (the lease ran out, another
        sender claimed it, or it was finished meanwhile, e.g. marked dead by a group migration): the
        caller must not send it."""
        now = self.clock()
        with self.store.transaction(exclusive=False) as conn:
            r = conn.execute(
                """UPDATE outbox SET lease_until = ?, attempts = attempts + 1
                   WHERE id = ? AND status = 'sending' AND claimed_by = ? AND lease_until >= ?
                   RETURNING attempts""",
                (now + lease_s, row_id, worker, now),
            ).fetchone()
            return None if r is None else int(r[0])

    def _release(self, row_id: int, worker: str) -> bool:
        """Hand a claimed row back unsent (the sender is stopping): pending and due at once, its
        attempts untouched, for the next sender or start."""
        with self.store.transaction(exclusive=False) as conn:
            cur = conn.execute(
                """UPDATE outbox SET status = 'pending', next_attempt_at = ?, lease_until = NULL, claimed_by = NULL
                   WHERE id = ? AND status = 'sending' AND claimed_by = ?""",
                (self.clock(), row_id, worker),
            )
            return cur.rowcount == 1

    def _mark_sent(self, row_id: int, worker: str, message_id: int | None) -> bool:
        with self.store.transaction(exclusive=False) as conn:
            cur = conn.execute(
                """UPDATE outbox SET status = 'sent', message_id = ?, sent_at = ?, lease_until = NULL,
                   last_error = NULL WHERE id = ? AND status = 'sending' AND claimed_by = ?""",
                (message_id, now_iso(), row_id, worker),
            )
            return cur.rowcount == 1

    def _retry_later(self, row_id: int, worker: str, delay_s: float, error: str, count_attempt: bool = True) -> None:
        """Back to pending; a flood-limit wait does not count as a failed attempt."""
        uncount = ", attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END"
        with self.store.transaction(exclusive=False) as conn:
            conn.execute(
                f"""UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, lease_until = NULL,
                    claimed_by = NULL{"" if count_attempt else uncount}
                    WHERE id = ? AND status = 'sending' AND claimed_by = ?""",
                (self.clock() + delay_s, error[:500], row_id, worker),
            )

    def _give_up(self, row_id: int, worker: str, status: str, error: str) -> None:
        if status not in ("failed", "dead"):
            raise ValueError(status)
        with self.store.transaction(exclusive=False) as conn:
            conn.execute(
                """UPDATE outbox SET status = ?, last_error = ?, lease_until = NULL
                   WHERE id = ? AND status = 'sending' AND claimed_by = ?""",
                (status, error[:500], row_id, worker),
            )

    # the sender's steps, each run again once if the database server went away in the middle of it
    def claim(self, row_id: int, worker: str, lease_s: float) -> OutboxRow | None:
        return _again_if_lost(lambda: self._claim(row_id, worker, lease_s))

    def renew(self, row_id: int, worker: str, lease_s: float) -> int | None:
        return _again_if_lost(lambda: self._renew(row_id, worker, lease_s))

    def release(self, row_id: int, worker: str) -> bool:
        return _again_if_lost(lambda: self._release(row_id, worker))

    def mark_sent(self, row_id: int, worker: str, message_id: int | None) -> bool:
        return _again_if_lost(lambda: self._mark_sent(row_id, worker, message_id))

    def retry_later(self, row_id: int, worker: str, delay_s: float, error: str, count_attempt: bool = True) -> None:
        _again_if_lost(lambda: self._retry_later(row_id, worker, delay_s, error, count_attempt))

    def give_up(self, row_id: int, worker: str, status: str, error: str) -> None:
        _again_if_lost(lambda: self._give_up(row_id, worker, status, error))

    def release_chat(self, chat_id: int) -> int:
        """A chat's pending rows due now, with their attempts counted afresh (a paused destination
        resumed by an admin: its held rows go out with the next drain, not after their backoff)."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET next_attempt_at = ?, attempts = 0 WHERE chat_id = ? AND status = 'pending'",
                (self.clock(), chat_id),
            )
            return cur.rowcount

    def drop_chat(self, chat_id: int, error: str) -> int:
        """The chat cannot be reached any more: its unsent rows are dead."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                """UPDATE outbox SET status = 'dead', last_error = ?, lease_until = NULL
                   WHERE chat_id = ? AND status IN ('pending', 'sending')""",
                (error[:500], chat_id),
            )
            return cur.rowcount

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        """A group became a supergroup: its unsent rows follow it (a row already queued there wins)."""
        with self.store.transaction() as conn:
            # rows whose key is already queued for the new chat stay behind (and die below)
            moved = conn.execute(
                """UPDATE outbox SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'sending')
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.chat_id = ? AND o.rule_id = outbox.rule_id
                       AND o.tier = outbox.tier AND o.kind = outbox.kind AND o.day = outbox.day
                       AND o.part = outbox.part)""",
                (new_chat_id, old_chat_id, new_chat_id),
            ).rowcount
            conn.execute(
                """UPDATE outbox SET status = 'dead', last_error = ?
                   WHERE chat_id = ? AND status IN ('pending', 'sending')""",
                (f"chat migrated to {new_chat_id}; already queued there", old_chat_id),
            )
            conn.execute(
                """UPDATE alert_state SET chat_id = ? WHERE chat_id = ? AND NOT EXISTS
                   (SELECT 1 FROM alert_state a WHERE a.chat_id = ? AND a.rule_id = alert_state.rule_id)""",
                (new_chat_id, old_chat_id, new_chat_id),
            )
            return moved

    def prune(self, before: date) -> int:
        """Forget finished rows of trading days before ``before``; returns how many.

        Safe for the no-duplicate guarantee: a day that old is never evaluated again (the daily job
        keeps its last evaluated day), so its idempotency keys are no longer needed. Unsent rows stay.
        """
        with self.store.transaction() as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE day < ? AND status IN ('sent', 'failed', 'dead')", (before.isoformat(),)
            ).rowcount


class HeldRowsWatch:
    """A drain's patience with rows under another sender's lease: a live sender (another instance) marks them
    sent within seconds, a dead one's rows wait for its lease to run out; either way they are watched for up
    to ``wait_up_to_s`` from the first time the drain finds nothing else to do (one watch per drain)."""

    def __init__(self, outbox: Outbox, worker: str, target: Target, wait_up_to_s: float) -> None:
        self.outbox, self.worker, self.target, self.wait_up_to_s = outbox, worker, target, wait_up_to_s
        self._until: float | None = None  # monotonic end of the watch, set when it starts

    async def keep_waiting(self) -> bool:
        """True while rows are held elsewhere and the watch has time left."""
        held, _until = await asyncio.to_thread(self.outbox.in_flight_elsewhere, self.worker, self.target)
        if not held:
            return False
        if self._until is None:
            self._until = time.monotonic() + self.wait_up_to_s
        return time.monotonic() < self._until
