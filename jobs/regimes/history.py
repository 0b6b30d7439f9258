"""The regime history: every stored trading day's scenarios and composite, as they read on that day.

Each day is evaluated by ``RegimeContext.evaluate``, the code behind the live ``/regime`` answer, with
what was known that day and nothing later: the day's stored snapshot (its percentile ranks the
history up to the day), closes up to the day, turnover and PE rows up to the day, PMI months from the
day they became known (``known_from`` for a file, the release day for akshare's), policy events active
on the day. So the last day of a history equals ``spreadwatch regime --as-of`` that day.

Inputs recorded only from when they were first fetched (akshare's Shenwan analysis, concept boards)
make a scenario *unknown* before then: the history says so instead of guessing.

``run_starts`` reads the same day-by-day evaluation backwards from a day: the first day of each
scenario's current state, the "since" of the live answer.
"""

from __future__ import annotations

import bisect
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from jobs.config.settings import Settings
from jobs.regimes.context import RegimeContext, reversal_window_start
from jobs.regimes.file_inputs import FileInputs
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.types import SCENARIOS, Ranked, Scenario, ScenarioResult, State
from jobs.store.datastore import Store

ALL = (*SCENARIOS, Scenario.COMPOSITE)


@dataclass(frozen=True)
class HistoryDay:
    day: date
    spread: float
    percentile: float
    results: tuple[ScenarioResult, ...]  # the four scenarios, then the composite

    def result(self, scenario: Scenario | str) -> ScenarioResult:
        return next(r for r in self.results if r.scenario.value == str(scenario))

    def state(self, scenario: Scenario | str) -> State:
        return self.result(scenario).state


@dataclass(frozen=True)
class Run:
    """A stretch of consecutive days in one state (``end`` = its last day)."""

    scenario: str
    state: State
    start: date
    end: date


@dataclass(frozen=True)
class InputNote:
    """What the history cannot know for part of its span; the messages say it in the reader's language
    (by ``kind``), ``str()`` in English for JSON and logs.

    Kinds: ``gap`` (``label`` has no rows ``first`` .. ``last``), ``starts`` (``label`` starts on
    ``first``), ``pmi_starts`` (the PMI starts in ``first``'s month), ``no_pmi``, ``no_heat``.
    """

    kind: str
    label: str = ""
    first: date | None = None
    last: date | None = None

    def __str__(self) -> str:
        if self.kind == "gap":
            unknown = "heat is unknown there unless another input covers it"
            return f"{self.label} has no rows {self.first} .. {self.last}: {unknown}"
        if self.kind == "starts":
            return f"{self.label} starts on {self.first}"
        if self.kind == "pmi_starts":
            return f"the PMI starts in {self.first:%Y-%m}"
        if self.kind == "no_pmi":
            return "no PMI stored or configured (regimes.inputs.pmi): macro is unknown"
        return "no turnover or PE (regimes.inputs.amount / .pe): heat is unknown"


@dataclass(frozen=True)
class RegimeHistory:
    days: tuple[HistoryDay, ...]
    notes: tuple[InputNote, ...] = ()  # what the inputs lack (holes in a file, series that start late)

    @property
    def first(self) -> date | None:
        return self.days[0].day if self.days else None

    @property
    def last(self) -> date | None:
        return self.days[-1].day if self.days else None

    def dates(self) -> list[date]:
        return [d.day for d in self.days]

    def at(self, day: date) -> HistoryDay | None:
        """The history's day ``day`` (None when it is not a day of the history)."""
        i = bisect.bisect_left(self.dates(), day)
        return self.days[i] if i < len(self.days) and self.days[i].day == day else None

    def runs(self, scenario: Scenario | str) -> list[Run]:
        out: list[Run] = []
        for d in self.days:
            s = d.state(scenario)
            if out and out[-1].state == s:
                out[-1] = Run(out[-1].scenario, s, out[-1].start, d.day)
            else:
                out.append(Run(str(scenario), s, d.day, d.day))
        return out

    def days_in(self, state: State, scenario: Scenario | str) -> int:
        return sum(1 for d in self.days if d.state(scenario) == state)

    def stats(self) -> list[dict[str, Any]]:
        """Days in each state and the number of on-periods, per scenario (the messages show these)."""
        return [
            {
                "scenario": s.value,
                **{st.value: self.days_in(st, s) for st in State},
                "periods": sum(1 for r in self.runs(s) if r.state == State.ON),
            }
            for s in ALL
        ]

    def on_runs(self, scenario: Scenario | str) -> list[Run]:
        return [r for r in self.runs(scenario) if r.state == State.ON]

    def frame(self) -> pd.DataFrame:
        """One row per day: spread, percentile and each scenario's state (the chart draws this)."""
        data: dict[str, Any] = {
            "spread": [d.spread for d in self.days],
            "percentile": [d.percentile for d in self.days],
        }
        for s in ALL:
            data[s.value] = [d.state(s).value for d in self.days]
        return pd.DataFrame(data, index=pd.DatetimeIndex([pd.Timestamp(d.day) for d in self.days], name="date"))

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "notes": [str(n) for n in self.notes],
            "summary": {s.value: {st.value: self.days_in(st, s) for st in State} for s in ALL},
            "on_periods": {
                s.value: [
                    {"start": r.start.isoformat(), "end": r.end.isoformat()}
                    for r in self.runs(s)
                    if r.state == State.ON
                ]
                for s in ALL
            },
            "days": [
                {
                    "date": d.day.isoformat(),
                    "spread": round(d.spread, 4),
                    "percentile": round(d.percentile, 2),
                    **{r.scenario.value: {"state": r.state.value, "code": r.code} for r in d.results},
                }
                for d in self.days
            ],
        }

    def to_csv(self) -> str:
        """One row per day; UTF-8 with a byte-order mark, as the other exports (Excel reads it right)."""
        buf = io.StringIO()
        buf.write("\ufeff")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["date", "spread", "percentile", *(f"{s.value}{x}" for s in ALL for x in ("", "_code"))])
        for d in self.days:
            writer.writerow(
                [
                    d.day.isoformat(),
                    repr(d.spread),
                    repr(d.percentile),
                    *(x for s in ALL for x in (d.state(s).value, d.result(s).code)),
                ]
            )
        return buf.getvalue()


def input_notes(ctx: RegimeContext, start: date, end: date) -> list[InputNote]:
    """What the history cannot know for part of the span."""
    notes: list[InputNote] = []
    files = ctx.files
    if files is not None:
        for f in (files.amount, files.pe):
            if f is None:
                continue
            for a, b in f.gaps:
                lo, hi = a + timedelta(days=1), b - timedelta(days=1)
                if hi >= start and lo <= end:
                    notes.append(InputNote("gap", f.label, lo, hi))
            if f.first > start:
                notes.append(InputNote("starts", f.label, f.first))
    if not ctx.pmi.empty:
        first = pd.Timestamp(ctx.pmi.index[0]).date()
        if first > start:
            notes.append(InputNote("pmi_starts", first=first))
    else:
        notes.append(InputNote("no_pmi"))
    if (ctx.amounts is None or ctx.amounts.empty) and ctx.analysis is None and ctx.pe_wide is None:
        notes.append(InputNote("no_heat"))
    return notes


def build_history(
    store: Store,
    settings: Settings,
    source: str,
    start: date | None = None,
    end: date | None = None,
    files: FileInputs | None = None,
) -> RegimeHistory:
    """Every stored trading day from ``start`` to ``end`` (default: all), each as of itself."""
    ctx = RegimeContext.load(store, settings, source, files)
    n_days = settings.regimes.reversal.n_days
    first_day = start or date.min
    load_from = reversal_window_start(first_day, n_days) if start else date.min
    snaps = RegimeRepo(store).rankings(source, load_from, end or date.max)
    return replay(ctx, snaps, first_day)


def replay(ctx: RegimeContext, snaps: Sequence[Ranked], start: date) -> RegimeHistory:
    n_days = ctx.settings.regimes.reversal.n_days
    dates = [s.as_of for s in snaps]
    days: list[HistoryDay] = []
    for i, snap in enumerate(snaps):
        if snap.as_of < start:
            continue
        lo = bisect.bisect_left(dates, reversal_window_start(snap.as_of, n_days))
        scenarios, composite = ctx.evaluate(snap.as_of, snap, snaps[lo : i + 1])
        days.append(HistoryDay(snap.as_of, snap.spread, snap.percentile, (*scenarios, composite)))
    notes: list[InputNote] = []
    if days:
        notes = input_notes(ctx, days[0].day, days[-1].day)
    return RegimeHistory(tuple(days), tuple(notes))


def history_context(history: RegimeHistory, source_label: str, synthetic: bool) -> dict[str, Any]:
    return {
        "history": history,
        "stats": history.stats(),
        "composite_periods": history.on_runs(Scenario.COMPOSITE),
        "notes": list(history.notes),
        "source_label": source_label,
        "synthetic": synthetic,
    }


def run_starts(
    ctx: RegimeContext, snaps: Sequence[Ranked], as_of: date, today: Sequence[ScenarioResult]
) -> dict[str, date]:
    """The first day of each result's state in the day-by-day evaluation up to ``as_of``: the day the
    state began in the regime history (``as_of`` itself when the state is new that day; never later).

    ``today``: the results on ``as_of``; ``snaps``: the stored snapshots, ascending (those after ``as_of``
    are ignored). Walks back only while a state holds, and evaluates only the scenarios still holding
    (the composite needs the four on its days), each day exactly as ``replay`` evaluates it.
    """
    current = {r.scenario.value: r.state for r in today}
    since = dict.fromkeys(current, as_of)
    holding = set(current)
    n_days = ctx.settings.regimes.reversal.n_days
    dates = [s.as_of for s in snaps]
    for i in range(bisect.bisect_right(dates, as_of) - 1, -1, -1):
        if not holding:
            break
        day, snap = dates[i], snaps[i]
        if day == as_of:
            continue  # ``today`` is that day's evaluation
        need = holding | ({s.value for s in SCENARIOS} if Scenario.COMPOSITE.value in holding else set())
        results: dict[str, ScenarioResult] = {}
        if Scenario.MACRO.value in need:
            results[Scenario.MACRO.value] = ctx.macro(day)
        if Scenario.HEAT.value in need:
            results[Scenario.HEAT.value] = ctx.heat(snap, day)
        if Scenario.REVERSAL.value in need:
            lo = bisect.bisect_left(dates, reversal_window_start(day, n_days))
            results[Scenario.REVERSAL.value] = ctx.reversal(snaps[lo : i + 1], day)
        if Scenario.BREADTH.value in need:
            results[Scenario.BREADTH.value] = ctx.breadth(day)
        if Scenario.COMPOSITE.value in need:
            four = [results[s.value] for s in SCENARIOS]
            results[Scenario.COMPOSITE.value] = ctx.composite(day, snap, four)
        for name in sorted(holding):
            if results[name].state == current[name]:
                since[name] = day
            else:
                holding.discard(name)
    return since
