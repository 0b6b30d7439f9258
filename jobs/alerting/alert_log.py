"""Alert bookkeeping: the state per (rule, chat), the audit log of transitions, and their messages.

Any rule goes through one call, :func:`record_transitions`, which in ONE transaction

1. saves each chat's new state (skipping chats whose state already covers ``day``, so a re-run of a
   day is a no-op),
2. appends every transition to ``alert_log`` with its inputs (snapshot numbers, rule parameters) and
   reason, and
3. queues the transition's rendered message parts in the outbox under the idempotency key
   (rule, tier, kind, day, chat, part),

and optionally stores "day evaluated" in ``meta`` so a catch-up never evaluates a date twice.

Rule ids: ``spread`` (the percentile rule of :mod:`jobs.engine.rules`); other rules use their own ids, e.g.
``regime:<name>`` and ``composite``. A rule that is not a :class:`jobs.engine.rules.AlertState` machine stores
any JSON-serialisable dict as its state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from jobs.engine.rules import AlertState, RuleParams, Transition
from jobs.model.figures import Snapshot
from jobs.store.datastore import Store, now_iso
from jobs.store.db import Connection
from jobs.store.outbox import Outbox

SPREAD_RULE = "spread"


@dataclass(frozen=True)
class TransitionRecord:
    """One transition of one chat, ready to be stored: what happened, why, on what inputs, and the
    message parts to send (empty for a muted chat: the transition is logged but nothing is queued)."""

    kind: str
    tier: int
    previous_tier: int
    reason: str
    inputs: Mapping[str, Any]
    parts: Sequence[str] = ()


@dataclass(frozen=True)
class ChatMessage:
    """A message queued with a day's transitions but not one of them (the catch-up digest)."""

    chat_id: int
    kind: str
    parts: Sequence[str]
    tier: int = 0


@dataclass(frozen=True)
class ChatOutcome:
    """The result of evaluating one rule for one chat on one day."""

    chat_id: int
    state: Mapping[str, Any]  # JSON-serialisable; replaces the stored state of (rule, chat)
    transition: TransitionRecord | None = None


@dataclass(frozen=True)
class RecordResult:
    states_saved: int = 0
    transitions: int = 0
    messages_queued: int = 0
    skipped_chats: tuple[int, ...] = ()  # their stored state already covered the day


@dataclass(frozen=True)
class StoredState:
    chat_id: int
    state: dict[str, Any]
    day: date


@dataclass(frozen=True)
class LogEntry:
    id: int
    rule_id: str
    chat_id: int
    day: date
    kind: str
    tier: int
    previous_tier: int
    reason: str
    inputs: dict[str, Any]
    queued: bool
    created_at: str


@dataclass
class _Acc:
    states: int = 0
    transitions: int = 0
    queued: int = 0
    skipped: list[int] = field(default_factory=list)


def record_transitions(
    store: Store,
    rule_id: str,
    day: date,
    outcomes: Iterable[ChatOutcome],
    *,
    evaluated_key: str | None = None,
    messages: Iterable[ChatMessage] = (),
) -> RecordResult:
    """Store states, transitions and their messages for ``day`` atomically (see the module docstring).

    ``evaluated_key``: a ``meta`` key set to ``day`` in the same transaction (the caller's "last
    evaluated trading day" marker). ``messages``: queued in the same transaction, under ``day``, so
    that they exist exactly when the day counts as evaluated.
    """
    outbox = Outbox(store)
    acc = _Acc()
    with store.transaction() as conn:
        for outcome in outcomes:
            _record_one(conn, outbox, rule_id, day, outcome, acc)
        for m in messages:
            acc.queued += outbox.enqueue(
                conn, rule_id=rule_id, tier=m.tier, kind=m.kind, day=day, chat_id=m.chat_id, parts=m.parts
            )
        if evaluated_key is not None:
            store.set_meta(evaluated_key, day.isoformat(), conn)
    return RecordResult(acc.states, acc.transitions, acc.queued, tuple(acc.skipped))


def _record_one(conn: Connection, outbox: Outbox, rule_id: str, day: date, outcome: ChatOutcome, acc: _Acc) -> None:
    row = conn.execute(
        "SELECT day FROM alert_state WHERE rule_id = ? AND chat_id = ?", (rule_id, outcome.chat_id)
    ).fetchone()
    if row is not None and date.fromisoformat(row[0]) >= day:
        acc.skipped.append(outcome.chat_id)
        return
    conn.execute(
        """INSERT INTO alert_state (rule_id, chat_id, state_json, day, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(rule_id, chat_id) DO UPDATE SET state_json = excluded.state_json, day = excluded.day,
           updated_at = excluded.updated_at""",
        (rule_id, outcome.chat_id, json.dumps(dict(outcome.state), default=str), day.isoformat(), now_iso()),
    )
    acc.states += 1
    t = outcome.transition
    if t is None:
        return
    logged = conn.execute(
        """INSERT INTO alert_log (rule_id, chat_id, day, kind, tier, previous_tier, reason, inputs_json,
           queued, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id""",
        (
            rule_id,
            outcome.chat_id,
            day.isoformat(),
            t.kind,
            t.tier,
            t.previous_tier,
            t.reason,
            json.dumps(dict(t.inputs), ensure_ascii=False, default=str),
            int(bool(t.parts)),
            now_iso(),
        ),
    ).fetchone()
    if logged is None:  # logged already: its messages were queued with it
        return
    acc.transitions += 1
    if t.parts:
        acc.queued += outbox.enqueue(
            conn,
            rule_id=rule_id,
            tier=t.tier,
            kind=t.kind,
            day=day,
            chat_id=outcome.chat_id,
            parts=t.parts,
            log_id=int(logged[0]),
        )


# -- reading -------------------------------------------------------------------------------------


def load_states(store: Store, rule_id: str) -> dict[int, StoredState]:
    rows = (
        store.connect()
        .execute("SELECT chat_id, state_json, day FROM alert_state WHERE rule_id = ?", (rule_id,))
        .fetchall()
    )
    return {
        int(r["chat_id"]): StoredState(int(r["chat_id"]), json.loads(r["state_json"]), date.fromisoformat(r["day"]))
        for r in rows
    }


def all_states(store: Store) -> list[tuple[str, StoredState]]:
    rows = (
        store.connect()
        .execute("SELECT rule_id, chat_id, state_json, day FROM alert_state ORDER BY rule_id, chat_id")
        .fetchall()
    )
    return [
        (r["rule_id"], StoredState(int(r["chat_id"]), json.loads(r["state_json"]), date.fromisoformat(r["day"])))
        for r in rows
    ]


def transitions(
    store: Store, rule_id: str | None = None, chat_id: int | None = None, limit: int | None = None
) -> list[LogEntry]:
    """The audit log, newest first (all of it when ``limit`` is None)."""
    sql, args = "SELECT * FROM alert_log WHERE 1 = 1", list[object]()
    if rule_id is not None:
        sql += " AND rule_id = ?"
        args.append(rule_id)
    if chat_id is not None:
        sql += " AND chat_id = ?"
        args.append(chat_id)
    sql += " ORDER BY day DESC, id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [
        LogEntry(
            id=int(r["id"]),
            rule_id=r["rule_id"],
            chat_id=int(r["chat_id"]),
            day=date.fromisoformat(r["day"]),
            kind=r["kind"],
            tier=int(r["tier"]),
            previous_tier=int(r["previous_tier"]),
            reason=r["reason"],
            inputs=json.loads(r["inputs_json"]),
            queued=bool(r["queued"]),
            created_at=r["created_at"],
        )
        for r in store.connect().execute(sql, args).fetchall()
    ]


# -- the spread rule's state and inputs as JSON --------------------------------------------------


def state_to_json(state: AlertState) -> dict[str, Any]:
    out = asdict(state)
    for key in ("episode_start", "peak_day"):
        out[key] = None if out[key] is None else out[key].isoformat()
    return out


def state_from_json(raw: Mapping[str, Any]) -> AlertState:
    def day(v: Any) -> date | None:
        return None if v is None else date.fromisoformat(str(v))

    return AlertState(
        level=int(raw.get("level", 0)),
        streak=int(raw.get("streak", 0)),
        max_level=int(raw.get("max_level", 0)),
        episode_start=day(raw.get("episode_start")),
        since_message=int(raw.get("since_message", 0)),
        peak_spread=None if raw.get("peak_spread") is None else float(raw["peak_spread"]),
        peak_day=day(raw.get("peak_day")),
    )


def spread_inputs(snap: Snapshot, params: RuleParams, transition: Transition) -> dict[str, Any]:
    """What the audit log keeps for a spread-rule transition: the numbers and the rule that fired."""
    return {
        "spread": round(snap.spread, 4),
        "percentile": round(snap.percentile, 3),
        "history_rank": snap.history_rank,
        "history_days": snap.history_days,
        "top_avg": round(snap.top_avg, 4),
        "bottom_avg": round(snap.bottom_avg, 4),
        "top": [[g.code, g.name, round(g.gain, 3)] for g in snap.top],
        "bottom": [[g.code, g.name, round(g.gain, 3)] for g in snap.bottom],
        "params": asdict(params),
        "episode_start": transition.episode_start.isoformat(),
        "peak_spread": round(transition.peak_spread, 4),
        "peak_day": transition.peak_day.isoformat(),
    }
