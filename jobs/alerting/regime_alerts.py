"""The regime part of the daily job: refresh the inputs, evaluate, and queue FIRE/RESOLVE alerts.

Scenario and composite transitions go through the same alert bookkeeping and outbox as the spread
rule (``jobs.alerting.alert_log.record_transitions``): rule ids ``regime:<scenario>`` and ``composite``, one
message per subscriber per transition, rendered in the chat's language from ``regime_fire`` /
``regime_resolve``; muted chats get the transition logged but no message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jobs.alerting.alert_log import ChatOutcome, TransitionRecord, record_transitions
from jobs.alerting.destinations import excluded_chats, is_notify_chat
from jobs.alerting.recipients import chat_lang
from jobs.alerting.services import Services
from jobs.regimes.inputs import InputRefresh, refresh_regime_inputs
from jobs.regimes.service import RegimeReport, update_regimes
from jobs.regimes.transitions import Change, Transition
from jobs.regimes.types import Scenario
from jobs.rendering.messages import render as default_render
from jobs.rendering.messages import split_message

log = logging.getLogger(__name__)

Render = Callable[..., str]
Split = Callable[[str], list[str]]


@dataclass(frozen=True)
class RegimeRun:
    inputs: tuple[InputRefresh, ...]
    report: RegimeReport
    transitions: tuple[Transition, ...]
    queued: int


def evaluated_key(source: str) -> str:
    """``meta`` key of the last trading day the regimes were evaluated (and alerted) for."""
    return f"regimes:last_evaluated:{source}"


def rule_id(scenario: str) -> str:
    return "composite" if scenario == Scenario.COMPOSITE.value else f"regime:{scenario}"


def run_regimes(
    services: Services,
    day: date,
    *,
    render: Render | None = None,
    split: Split | None = None,
    fetch: bool = True,
) -> RegimeRun:
    """Called by the daily job after the prices are refreshed and the day's snapshot is stored."""
    render, split = render or default_render, split or split_message
    settings, store = services.settings, services.store
    inputs = refresh_regime_inputs(store, settings, day) if fetch else []
    queued = [0]

    def enqueue(report: RegimeReport, transitions: Sequence[Transition]) -> None:
        if settings.regimes.alerts:
            queued[0] = _queue_alerts(services, report, transitions, day, render, split)

    source = services.engine.source.name
    report, transitions = update_regimes(store, settings, source, day, enqueue)
    store.set_meta(evaluated_key(source), day.isoformat())
    for t in transitions:
        log.info("regime %s: %s -> %s on %s (%s)", t.scenario, t.old, t.new, t.day, t.result.reason)
    return RegimeRun(tuple(inputs), report, tuple(transitions), queued[0])


def run_regimes_if_due(services: Services, spread_evaluated_key: str) -> RegimeRun | None:
    """Follow the daily job: once it has evaluated a trading day the regimes have not, evaluate that day.

    ``spread_evaluated_key`` is the ``meta`` key where the daily job stores the last day it evaluated;
    keying on it (not on a clock) runs the regimes after the day's prices are in, once per day, and
    catches up after downtime.
    """
    store = services.store
    # one instance evaluates a day: the other, once it has the lock, finds it done
    with store.lock("regimes"):
        raw = store.get_meta(spread_evaluated_key)
        if raw is None:
            return None
        day = date.fromisoformat(raw)
        mine = store.get_meta(evaluated_key(services.engine.source.name))
        if mine is not None and date.fromisoformat(mine) >= day:
            return None
        return run_regimes(services, day)


def _queue_alerts(
    services: Services,
    report: RegimeReport,
    transitions: Sequence[Transition],
    day: date,
    render: Render,
    split: Split,
) -> int:
    settings = services.settings
    subscribers = services.chats.subscribers()
    queued = 0
    for t in transitions:
        if t.change == Change.MOVE:
            continue
        fire = t.change == Change.FIRE
        outcomes = []
        excluded = excluded_chats(services.store, settings.notify, rule_id(t.scenario))
        for chat in subscribers:
            if chat.chat_id in excluded:
                continue
            lang = chat_lang(chat, settings)
            muted = chat.muted_on(day)
            parts: Sequence[str] = ()
            if not muted:
                # WeCom, DingTalk, email and webhooks have no bot to answer a command: their messages name none
                ctx: dict[str, Any] = {
                    "t": t,
                    "result": t.result,
                    "report": report,
                    "bot_commands": not is_notify_chat(chat.chat_id),
                }
                parts = split(render("regime_fire" if fire else "regime_resolve", lang, **ctx))
            record = TransitionRecord(
                kind=t.change.value,
                tier=1 if fire else 0,
                previous_tier=0 if fire else 1,
                reason=t.result.reason + (" (chat muted: not sent)" if muted else ""),
                inputs={"old": t.old.value, "new": t.new.value, "evidence": [e.to_json() for e in t.result.evidence]},
                parts=parts,
            )
            outcomes.append(ChatOutcome(chat.chat_id, {"state": t.new.value, "since": day.isoformat()}, record))
        queued += record_transitions(services.store, rule_id(t.scenario), day, outcomes).messages_queued
    return queued
