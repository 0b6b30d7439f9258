"""Assembling the scenarios from the store: evaluate, detect transitions, keep the latest report.

``update_regimes`` is what the daily job calls after refreshing prices and regime inputs: it
evaluates every scenario and the composite as of the day, stores the new known states and the
transitions (and, through ``enqueue``, their alert messages) in one transaction, and keeps the
report in ``meta`` so that ``/regime`` reads it without recomputing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jobs.config.settings import Settings
from jobs.regimes.context import RegimeContext, reversal_window_start
from jobs.regimes.file_inputs import FileInputs
from jobs.regimes.history import run_starts
from jobs.regimes.macro import PolicyEvent
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.transitions import Transition, detect
from jobs.regimes.types import Evidence, Freshness, Scenario, ScenarioResult, State
from jobs.store.datastore import Store

REPORT_META_KEY = "regime_report"


@dataclass(frozen=True)
class RegimeReport:
    as_of: date
    scenarios: tuple[ScenarioResult, ...]
    composite: ScenarioResult
    events: tuple[PolicyEvent, ...] = ()
    # the first day of each scenario's (and the composite's) state in the day-by-day evaluation up to as_of
    since: dict[str, date] = field(default_factory=dict)

    @property
    def all(self) -> tuple[ScenarioResult, ...]:
        return (*self.scenarios, self.composite)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "scenarios": [s.to_json(self.as_of) for s in self.scenarios],
            "composite": self.composite.to_json(self.as_of),
            "events": [
                {"id": e.id, "date": e.day.isoformat(), "text": e.text, "author": e.author} for e in self.events
            ],
            "since": {k: v.isoformat() for k, v in self.since.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegimeReport:
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            scenarios=tuple(_result_from_json(s) for s in data["scenarios"]),
            composite=_result_from_json(data["composite"]),
            events=tuple(
                PolicyEvent(int(e["id"]), date.fromisoformat(e["date"]), e["text"], e["author"]) for e in data["events"]
            ),
            since={k: date.fromisoformat(v) for k, v in data.get("since", {}).items()},
        )


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _evidence_from_json(e: dict[str, Any]) -> Evidence:
    when = str(e["on"])
    monthly = len(when) == 7
    return Evidence(
        e["key"], e["value"], date.fromisoformat(when + "-01" if monthly else when), e["unit"], e["label"], monthly
    )


def _result_from_json(s: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(
        scenario=Scenario(s["scenario"]),
        state=State(s["state"]),
        reason=s["reason"],
        code=s["code"],
        as_of=_d(s["as_of"]),
        evidence=tuple(_evidence_from_json(e) for e in s["evidence"]),
        stale_since=_d(s["stale_since"]),
        inputs=tuple(Freshness(f["name"], _d(f["last_date"]), int(f["max_age_days"]), f["error"]) for f in s["inputs"]),
    )


def evaluate_regimes(
    store: Store, settings: Settings, source: str, as_of: date, files: FileInputs | None = None
) -> RegimeReport:
    """Every scenario and the composite as of ``as_of``, from stored data and the configured input files.

    Nothing dated after ``as_of`` shows: each state's "since" is the day it began in the day-by-day
    evaluation (the regime history) up to ``as_of``, and only the policy events recorded by then are listed.
    """
    ctx = RegimeContext.load(store, settings, source, files)
    start = reversal_window_start(as_of, settings.regimes.reversal.n_days)
    scenarios, composite = ctx.evaluate(
        as_of, store.snapshot(source, as_of), store.snapshots_between(source, start, as_of)
    )
    snaps = RegimeRepo(store).rankings(source, date.min, as_of)
    since = run_starts(ctx, snaps, as_of, (*scenarios, composite))
    return RegimeReport(as_of, scenarios, composite, known_by(ctx.events, as_of), since)


def known_by(events: Sequence[PolicyEvent], as_of: date) -> tuple[PolicyEvent, ...]:
    return tuple(e for e in events if e.day <= as_of)


BeforeCommit = Callable[[RegimeReport, Sequence[Transition]], None]


def update_regimes(
    store: Store, settings: Settings, source: str, day: date, before_commit: BeforeCommit | None = None
) -> tuple[RegimeReport, list[Transition]]:
    """Evaluate, detect transitions, hand them to ``before_commit``, then store the new states.

    ``before_commit`` (the alert outbox) runs before the states are stored: if the process dies in
    between, the next run detects the same transitions again and the outbox's idempotency key turns
    the second enqueue into a no-op, so an alert is neither lost nor sent twice.
    """
    report = evaluate_regimes(store, settings, source, day)
    repo = RegimeRepo(store)
    known, transitions = detect(repo.known_states(), report.all, day)
    if before_commit is not None:
        before_commit(report, transitions)
    with store.transaction() as conn:
        repo.record(conn, day, known, transitions)
        store.set_meta(REPORT_META_KEY, json.dumps(report.to_json(), ensure_ascii=False), conn)
    return report, transitions


def refresh_report(store: Store, settings: Settings, source: str, day: date) -> RegimeReport:
    """Re-evaluate and keep the report (after a policy event changed) without touching the states."""
    report = evaluate_regimes(store, settings, source, day)
    with store.transaction() as conn:
        store.set_meta(REPORT_META_KEY, json.dumps(report.to_json(), ensure_ascii=False), conn)
    return report


def stored_report(store: Store) -> RegimeReport | None:
    """The report the last ``update_regimes`` kept, with the policy events as they are now."""
    raw = store.get_meta(REPORT_META_KEY)
    if raw is None:
        return None
    report = RegimeReport.from_json(json.loads(raw))
    events = known_by(RegimeRepo(store).events(), report.as_of)
    return RegimeReport(report.as_of, report.scenarios, report.composite, events, report.since)
