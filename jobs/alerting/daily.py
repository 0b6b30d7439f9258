"""The daily job body, a plain function: refresh → compute → evaluate the rules → queue messages.

``run_daily`` is called by the scheduler (off the event loop), by ``spreadwatch run-daily`` and by
tests. It never sends anything itself: transitions and their messages land in the outbox in the same
transaction as the state change, and a sender drains the outbox afterwards.

* The trading day it is about (``target``) is the latest whose data should be out at ``now``
  (``schedule.daily_time``), or the trading day on or before ``as_of``.
* A failed fetch (or a rejected batch) evaluates nothing; admins get one ``data_problem`` message per
  incident (the outbox key includes the day, so retries do not repeat it).
* When the target's data is not there yet (or the day lacks an industry's close) the result says so
  and asks for a retry; after ``schedule.cutoff_time`` admins are told once that the day is missing,
  naming the missing industries. A target past the known calendar (a presumed trading day) without
  data is *unknown*, not missing: it may be a holiday nobody has published yet. Admins get one notice
  per known calendar end asking for a calendar refresh, not one per day.
* Every trading day with a snapshot after the last evaluated one is evaluated in order (a catch-up
  after downtime); the last evaluated day is stored with the transitions, so no date is evaluated twice.
  On the very first run only the latest day is evaluated: history is not replayed into alerts.
* Per subscriber: personal threshold (``RuleParams.with_threshold``), chat language; a muted chat
  keeps its state and its transitions are logged, but no message is queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from jobs.alerting.alert_log import (
    SPREAD_RULE,
    ChatMessage,
    ChatOutcome,
    TransitionRecord,
    load_states,
    record_transitions,
    spread_inputs,
    state_from_json,
    state_to_json,
)
from jobs.alerting.destinations import excluded_chats
from jobs.alerting.notices import notify_admins
from jobs.alerting.recipients import chat_lang
from jobs.alerting.services import Services
from jobs.engine.rules import AlertState, Observation, RuleParams, evaluate, params_from_settings
from jobs.model.figures import Snapshot
from jobs.rendering.messages import render as default_render
from jobs.rendering.messages import split_message
from jobs.store.outbox import Outbox

log = logging.getLogger(__name__)

DIGEST_KIND = "digest"  # outbox kind of the one message per chat that sums up a catch-up's late days
OUTBOX_KEEP_DAYS = 180  # finished outbox rows of older trading days are pruned
Render = Callable[..., str]  # render(kind, lang, **context) -> text
Split = Callable[[str], list[str]]


# the daily job needs what an admin notice needs: settings, store, engine, chats


@dataclass(frozen=True)
class DailyResult:
    # evaluated | up_to_date | waiting (data not there yet) | missing (past the cut-off) | unknown (a
    # presumed day past the known calendar without data: maybe a holiday) | fetch_failed
    # | job_failed (an unexpected error: admins told, nothing half-recorded) | before_history (an as_of
    # before the first stored spread: nothing fetched, evaluated or told)
    outcome: str
    target: date
    evaluated: tuple[date, ...] = ()
    transitions: int = 0
    queued: int = 0
    retry: bool = False  # the scheduler should run again in schedule.retry_every_min
    message: str = ""


def personal_params(base: RuleParams, threshold: float | None) -> RuleParams:
    try:
        return base.with_threshold(threshold)
    except ValueError:
        log.warning("ignoring an invalid personal threshold %r", threshold)
        return base


def observation(snap: Snapshot) -> Observation:
    return Observation(
        day=snap.as_of,
        spread=snap.spread,
        percentile=snap.percentile,
        new_high=snap.history_rank == 1,
        history_days=snap.history_days,
    )


def last_evaluated_key(source: str) -> str:
    return f"alerts:{SPREAD_RULE}:last_evaluated:{source}"


def run_daily(
    services: Services,
    as_of: date | None = None,
    now: datetime | None = None,
    render: Render | None = None,
) -> DailyResult:
    """Refresh, evaluate every trading day not yet evaluated up to the target, and queue the alerts.

    Held under the store's ``daily`` lock: of two instances (or the bot and a cron ``run-daily``) on
    one store, one runs the job and the other, once it has the lock, finds the day evaluated.
    """
    with services.store.lock("daily"):
        return _run_daily(services, as_of, now, render)


def _run_daily(
    services: Services,
    as_of: date | None,
    now: datetime | None,
    render: Render | None,
) -> DailyResult:
    settings, store, engine = services.settings, services.store, services.engine
    render = render or default_render
    split: Split = split_message
    notify = partial(notify_admins, services, render_fn=render, split_fn=split)
    local = engine.local_now(now)
    calendar = engine.calendar
    schedule = settings.schedule
    if as_of is None:
        target = calendar.expected_data_date(local, schedule.daily_time)
    else:
        target = calendar.last_trading_day_on_or_before(as_of)
        if (before := _before_history(services, as_of, target, fetched=False)) is not None:
            return before
    past_cutoff = local.date() > target or local.time() >= schedule.cutoff_time

    update = engine.update(until=target)
    source = engine.source.name
    before = _before_history(services, as_of, target, fetched=True) if as_of and update.refresh.ok else None
    if before is not None:
        return before
    if not update.refresh.ok:
        queued = notify("fetch_failed", target, update.refresh.message)
        return DailyResult(
            "fetch_failed",
            target,
            queued=queued,
            retry=not past_cutoff,
            message=f"fetch failed, nothing evaluated: {update.refresh.message}",
        )

    evaluated, transitions, queued = _evaluate_new_days(services, render, split, source, target, local)
    last = store.last_snapshot_date(source)
    calendar = engine.calendar  # the update may have confirmed days past the known end
    if last is None or last < target:
        incomplete = engine.incomplete_day()
        lacking = ""
        if incomplete is not None:
            lacking = f" ({incomplete.day} lacks {', '.join(n for _, n in incomplete.missing)})"
        unknown = not calendar.is_confirmed(target) and not calendar.presumed_days_beyond_limit(target)
        if past_cutoff and unknown and incomplete is None:
            known = calendar.known_until or target
            told = notify("calendar_unknown", known, None, unknown_day=target)
            queued += told
            outcome, retry = "unknown", False
            message = (
                f"no data for {target}, which is past the known trading calendar (ends {known}): it may be a "
                f"holiday, so it is not reported missing; {_told(told, ' to refresh the calendar')}"
            )
        elif past_cutoff:
            told = notify("missing", target, None, incomplete=incomplete)
            queued += told
            outcome, retry = "missing", False
            cutoff = f"{schedule.cutoff_time:%H:%M}"
            message = f"no complete data for {target} by the cut-off {cutoff}{lacking}; {_told(told)}"
        else:
            outcome, retry = "waiting", True
            message = f"complete data for {target} is not there yet (latest {last or 'none'}){lacking}; will retry"
    else:
        outcome = "evaluated" if evaluated else "up_to_date"
        retry = False
        message = f"evaluated {len(evaluated)} day(s) up to {target}" if evaluated else f"{target} already evaluated"
    log.info("daily run: %s", message)
    pruned = Outbox(store).prune(target - timedelta(days=OUTBOX_KEEP_DAYS))
    if pruned:
        log.info("outbox: %d finished row(s) older than %d days pruned", pruned, OUTBOX_KEEP_DAYS)
    return DailyResult(outcome, target, tuple(evaluated), transitions, queued, retry, message)


def _before_history(services: Services, as_of: date, target: date, fetched: bool) -> DailyResult | None:
    """An ``as_of`` whose trading day precedes the stored history: no day there was or can be evaluated.

    Before the fetch (``fetched`` False) only a stored history counts; after it, none at all up to the
    target means the same (the data up to ``as_of`` yields no spread).
    """
    source = services.engine.source
    first = services.store.first_snapshot_date(source.name)
    if first is None and fetched:
        why = f"{source.label} yields none up to that day"
    elif first is not None and target < first:
        why = f"the history of {source.label} starts on {first}"
    else:
        return None
    return DailyResult("before_history", target, message=f"no spread on or before {as_of}: {why}")


def _evaluate_new_days(
    services: Services, render: Render, split: Split, source: str, target: date, local: datetime
) -> tuple[list[date], int, int]:
    store = services.store
    key = last_evaluated_key(source)
    raw = store.get_meta(key)
    last_eval = date.fromisoformat(raw) if raw else None
    if last_eval is None:
        snap = store.snapshot(source, target)
        snaps = [] if snap is None else [snap]
    else:
        snaps = store.snapshots_between(source, date.fromordinal(last_eval.toordinal() + 1), target)
    # a catch-up: days before ``recent_from`` are logged but not sent; each chat gets one digest of them
    recent_from = catch_up_start(services, target)
    late = [s for s in snaps if s.as_of < recent_from]
    digest = CatchUp(late[0].as_of, late[-1].as_of, len(late), snaps[-1]) if late else None
    evaluated: list[date] = []
    transitions = queued = 0
    previous = last_eval
    for snap in snaps:
        is_late = digest is not None and snap.as_of <= digest.last_day
        t, q = _evaluate_day(services, render, split, snap, previous, local, key, digest if is_late else None)
        transitions += t
        queued += q
        evaluated.append(snap.as_of)
        previous = snap.as_of
    return evaluated, transitions, queued


def catch_up_start(services: Services, target: date) -> date:
    """The oldest trading day whose transitions are still sent one by one: ``alerts.catch_up_days``
    trading days before ``target``.

    After downtime, transitions of older days are logged (``alert_log``) but not sent: a subscriber
    back from a long outage would otherwise get every fire, remind and resolve of months at once.
    Each chat that had any gets one digest instead (them, compactly, and where things stand), queued
    with the last of those days; the later days are sent as usual.
    """
    day = target
    for _ in range(services.settings.alerts.catch_up_days):
        day = services.engine.calendar.previous_trading_day(day)
    return day


@dataclass
class CatchUp:
    """The late days of one catch-up run and what each chat's digest will list."""

    first_day: date
    last_day: date
    days: int
    latest: Snapshot  # the newest data, for "where things stand"
    entries: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, chat_id: int, snap: Snapshot, kind: str, tier: int) -> None:
        entry = {"day": snap.as_of, "kind": kind, "tier": tier, "percentile": snap.percentile, "spread": snap.spread}
        self.entries.setdefault(chat_id, []).append(entry)


def _evaluate_day(
    services: Services,
    render: Render,
    split: Split,
    snap: Snapshot,
    previous: date | None,
    local: datetime,
    key: str,
    catch_up: CatchUp | None = None,
) -> tuple[int, int]:
    settings, store = services.settings, services.store
    base = params_from_settings(settings.alerts)
    obs = observation(snap)
    states = load_states(store, SPREAD_RULE)
    ctx_common: dict[str, Any] = {
        "snap": snap,
        "source_label": services.engine.source.label,
        "synthetic": services.engine.source.synthetic,
    }
    outcomes: list[ChatOutcome] = []
    digests: list[ChatMessage] = []
    excluded = excluded_chats(store, settings.notify, SPREAD_RULE)
    for chat in services.chats.subscribers():
        if chat.chat_id in excluded:
            continue
        params = personal_params(base, chat.threshold)
        stored = states.get(chat.chat_id)
        # a chat not evaluated on the previous day (new, or back after a pause) starts afresh
        state = state_from_json(stored.state) if stored is not None and stored.day == previous else AlertState()
        new_state, tr = evaluate(params, state, obs)
        record = None
        muted = chat.muted_on(local.date())
        if tr is not None:
            parts: Sequence[str] = ()
            reason = tr.reason + (" (chat muted: not sent)" if muted else "")
            if catch_up is not None:
                reason += f" (caught up late: in the digest of {catch_up.first_day}..{catch_up.last_day}, not sent)"
                if not muted:
                    catch_up.add(chat.chat_id, snap, tr.kind.value, tr.tier)
            elif not muted:
                text = render(f"alert_{tr.kind.value}", chat_lang(chat, settings), tr=tr, params=params, **ctx_common)
                parts = split(text)
            record = TransitionRecord(
                kind=tr.kind.value,
                tier=tr.tier,
                previous_tier=tr.previous_tier,
                reason=reason,
                inputs=spread_inputs(snap, params, tr),
                parts=parts,
            )
        if catch_up is not None and snap.as_of == catch_up.last_day and chat.chat_id in catch_up.entries:
            # queued with the last late day, atomically: the digest exists exactly when those days count as done
            text = render(
                "alert_digest",
                chat_lang(chat, settings),
                entries=catch_up.entries[chat.chat_id],
                first_day=catch_up.first_day,
                last_day=catch_up.last_day,
                days=catch_up.days,
                state=new_state,
                params=params,
                snap=catch_up.latest,
                catch_up_days=settings.alerts.catch_up_days,
                source_label=services.engine.source.label,
                synthetic=services.engine.source.synthetic,
            )
            digests.append(ChatMessage(chat.chat_id, DIGEST_KIND, split(text)))
        outcomes.append(ChatOutcome(chat.chat_id, state_to_json(new_state), record))
    result = record_transitions(store, SPREAD_RULE, snap.as_of, outcomes, evaluated_key=key, messages=digests)
    return result.transitions, result.messages_queued


def _told(queued: int, what: str = "") -> str:
    """What happened to the admin notice, for the run's one-line summary."""
    if queued:
        return f"admins told{what}"
    return "no admin told (none configured, or told already)"


def report_job_failure(services: Services, day: date, error: str) -> int:
    """Tell the admins (once per trading day) that the daily job itself failed, so it never goes silent."""
    return notify_admins(services, "job_failed", day, error)
