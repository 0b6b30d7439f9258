"""Everything the scenarios read, loaded once, and the one evaluation of a day both paths run.

``evaluate_regimes`` (the live answer, ``/regime``, ``spreadwatch regime --as-of``) loads a context and
evaluates one day; the regime history loads one context and evaluates every day with the same
``RegimeContext.evaluate``. Inputs come from the store (akshare's PMI, PPI and Shenwan analysis, the
price rows' turnover) or, where ``regimes.inputs`` names a file, from that file.

Two memos keep the history fast without changing a single answer:

* the macro check depends on the day only through the months known by then, whether the newest is
  stale and which policy events are active: one ``check_macro`` call per distinct combination;
* the heat measures of a top five are causal series (a day's value uses that day and earlier rows),
  so they are built once per top five over all the data and cut at each day before judging.

Every check that reads the spread's snapshot obeys the spread rule's guards (``jobs.engine.guards``):
the composite and the reversal read its percentile (at least ``alerts.min_history_days`` days of
history), heat its top five; none speaks from a stale snapshot or past a day that lacks closes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd

from jobs.config.regime_settings import InputFiles
from jobs.config.settings import Settings
from jobs.engine.guards import Guard, may_speak
from jobs.engine.spread import incomplete_days
from jobs.regimes.breadth import BoardPoint, check_breadth
from jobs.regimes.composite import check_composite
from jobs.regimes.file_inputs import FileInputs, InputFileError, load_file_inputs
from jobs.regimes.heat import AmountTable, HeatSeries, analysis_frames, heat_series, judge_heat
from jobs.regimes.inputs import SOURCE
from jobs.regimes.macro import PolicyEvent, active_events, check_macro, ppi_release_day, release_day
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.reversal import CloseTable, check_reversal
from jobs.regimes.types import Freshness, Ranked, Scenario, ScenarioResult, State, silenced, spread_facts
from jobs.store.datastore import Store


def reversal_window_start(as_of: date, n_days: int) -> date:
    """The reversal window needs n_days trading days back: ~1.5 calendar days each, plus holidays."""
    return as_of - timedelta(days=int(n_days * 1.6) + 30)


def _last_error(store: Store, kind: str) -> str | None:
    """The message of the latest fetch of ``kind`` if it failed (a later success clears it)."""
    rec = store.last_fetch(SOURCE, kind)
    return rec.message if rec is not None and not rec.ok else None


@dataclass
class RegimeContext:
    settings: Settings
    source: str
    events: list[PolicyEvent]
    pmi: pd.Series
    ppi: pd.Series
    closes: CloseTable
    amounts: pd.DataFrame | None
    amount_table: AmountTable | None
    analysis: tuple[pd.DataFrame, pd.DataFrame] | None
    pe_wide: pd.DataFrame | None
    board_points: list[BoardPoint]
    pmi_known_from: dict[date, date] | None = None
    files: FileInputs | None = None
    sources: dict[str, str] = field(default_factory=dict)  # "pmi"/"share"/"pe" -> file name
    errors: dict[str, str | None] = field(default_factory=dict)
    board_errors: dict[str, str] = field(default_factory=dict)
    incomplete: dict[date, str] = field(default_factory=dict)  # days lacking closes -> what they lack
    _heat: dict[tuple[str, ...], HeatSeries] = field(default_factory=dict)
    _macro: dict[tuple[Any, ...], tuple[tuple[Freshness, ...], dict[tuple[bool, ...], ScenarioResult]]] = field(
        default_factory=dict
    )
    _pmi_known: list[date] = field(default_factory=list)
    _incomplete_days: list[date] = field(default_factory=list)
    _ppi_known: list[date] = field(default_factory=list)

    @classmethod
    def load(cls, store: Store, settings: Settings, source: str, files: FileInputs | None = None) -> RegimeContext:
        """``files``: the validated ``regimes.inputs`` files; when None they are loaded here, and a file
        that cannot be read leaves its input missing, with the reason as the input's error."""
        r = settings.regimes
        repo = RegimeRepo(store)
        rec = store.last_fetch(source)
        errors: dict[str, str | None] = {
            "spread": rec.message if rec is not None and not rec.ok else None,
            "pmi": _last_error(store, "pmi"),
            "ppi": _last_error(store, "ppi_yoy"),
            "analysis": _last_error(store, "sw_analysis"),
        }
        if files is None:
            files = FileInputs()
            try:
                files = load_file_inputs(r.inputs)
            except InputFileError as exc:
                # the others are still usable: load them one by one, the broken one stays missing
                files = _load_each(r.inputs, errors, str(exc))
        sources: dict[str, str] = {}
        pmi = repo.load_series("pmi")
        pmi_known = None
        if files.pmi is not None:
            pmi, pmi_known = files.pmi.series, files.pmi.known_from
            sources["pmi"] = files.pmi.label
            errors["pmi"] = None
        elif r.inputs.pmi is not None:
            pmi = pd.Series(dtype=float)
        if files.amount is not None:
            amounts: pd.DataFrame | None = files.amount.wide
            sources["share"] = files.amount.label
        elif r.inputs.amount is not None:
            amounts = None
        else:
            amounts = store.load_prices(source, "amount").dropna(how="all").dropna(axis=1, how="all")
        pe_wide = None
        if files.pe is not None:
            pe_wide = files.pe.wide
            sources["pe"] = files.pe.label
        names = [b.name for b in r.boards]
        prices = store.load_prices(source)
        book = store.name_book(source)
        ctx = cls(
            settings=settings,
            source=source,
            events=repo.events(),
            pmi=pmi,
            ppi=repo.load_series("ppi_yoy"),
            closes=CloseTable(prices),
            amounts=amounts,
            amount_table=AmountTable(amounts) if amounts is not None and not amounts.empty else None,
            analysis=analysis_frames(repo.load_analysis()),
            pe_wide=pe_wide,
            board_points=repo.board_points(names),
            pmi_known_from=pmi_known,
            files=files,
            sources=sources,
            errors=errors,
            board_errors={
                n: e for n in names if (e := _last_error(store, f"board:{n}") or _last_error(store, "market_cap"))
            },
            incomplete={
                day: "lacks " + ", ".join(book.name(c, day) for c in codes)
                for day, codes in incomplete_days(prices).items()
            },
        )
        ctx.index_known()
        return ctx

    def index_known(self) -> None:
        """Sort the days each PMI/PPI month became known (after building a context by hand, call this)."""
        months = [pd.Timestamp(m).date().replace(day=1) for m, v in self.pmi.items() if pd.notna(v)]
        known = self.pmi_known_from
        self._pmi_known = sorted(known.get(m, date.max) if known is not None else release_day(m) for m in months)
        ppi_months = [pd.Timestamp(m).date().replace(day=1) for m, v in self.ppi.items() if pd.notna(v)]
        self._ppi_known = sorted(ppi_release_day(m) for m in ppi_months)

    # -- the guards -------------------------------------------------------------------------------
    def incomplete_after(self, snap: Ranked | None, as_of: date) -> tuple[date, str] | None:
        """The newest day after the snapshot's, up to ``as_of``, that lacks closes (and what it lacks)."""
        if snap is not None and snap.as_of >= as_of:
            return None  # the snapshot is of the day itself (every day of the regime history)
        if len(self._incomplete_days) != len(self.incomplete):
            self._incomplete_days = sorted(self.incomplete)
        i = bisect.bisect_right(self._incomplete_days, as_of) - 1
        if i < 0 or (snap is not None and self._incomplete_days[i] <= snap.as_of):
            return None
        day = self._incomplete_days[i]
        return day, self.incomplete[day]

    # -- the scenarios ---------------------------------------------------------------------------
    def macro(self, as_of: date) -> ScenarioResult:
        r = self.settings.regimes
        n_pmi = bisect.bisect_right(self._pmi_known, as_of)
        n_ppi = bisect.bisect_right(self._ppi_known, as_of) if r.macro.use_ppi else 0
        events = tuple(e.id for e in active_events(self.events, as_of, r.macro.event_days))
        base: tuple[Any, ...] = (n_pmi, n_ppi, events)
        bucket = self._macro.get(base)
        if bucket is not None:
            # the inputs' dates are fixed by the months known: only their staleness moves with the day
            hit = bucket[1].get(tuple(f.stale(as_of) for f in bucket[0]))
            if hit is not None:
                return hit
        result = check_macro(
            self.pmi,
            r.macro,
            as_of,
            events=self.events,
            ppi_yoy=self.ppi,
            pmi_max_age_days=r.staleness.pmi_days,
            ppi_max_age_days=r.staleness.ppi_days,
            pmi_error=self.errors.get("pmi"),
            ppi_error=self.errors.get("ppi"),
            pmi_known_from=self.pmi_known_from,
            pmi_label=self.sources.get("pmi"),
        )
        inputs, results = self._macro.setdefault(base, (result.inputs, {}))
        results[tuple(f.stale(as_of) for f in inputs)] = result
        return result

    def heat_series(self, top: Sequence[str]) -> HeatSeries:
        key = tuple(sorted(top))  # every measure is a sum or mean over the five: their order does not matter
        hit = self._heat.get(key)
        if hit is None:
            hit = heat_series(
                top,
                self.settings.regimes.heat,
                amounts=self.amount_table,
                analysis_wide=self.analysis,
                pe_wide=self.pe_wide,
                sources={k: v for k, v in self.sources.items() if k in ("share", "pe")},
            )
            self._heat[key] = hit
        return hit

    def heat(self, snap: Ranked | None, as_of: date) -> ScenarioResult:
        if snap is None:
            return ScenarioResult(Scenario.HEAT, State.UNKNOWN, "no spread snapshot yet", "no_data", None)
        st = self.settings.regimes.staleness
        # the top five come from the snapshot: not from a stale one, nor past a day that lacks closes
        facts = spread_facts(snap, as_of, self.incomplete_after(snap, as_of), percentile=False)
        verdict = may_speak(facts, Guard(max_age_days=st.spread_days))
        if not verdict.ok:
            return silenced(
                Scenario.HEAT, verdict, Freshness("spread", snap.as_of, st.spread_days, self.errors.get("spread"))
            )
        top = [g.code for g in snap.top]
        return judge_heat(
            top,
            self.settings.regimes.heat,
            as_of,
            self.heat_series(top),
            names={g.code: g.name for g in snap.top},
            amount_max_age_days=st.amount_days,
            analysis_max_age_days=st.analysis_days,
            amount_error=self.errors.get("amount" if self.settings.regimes.inputs.amount else "spread"),
            analysis_error=self.errors.get("analysis"),
        )

    def reversal(self, window: Sequence[Ranked], as_of: date) -> ScenarioResult:
        r = self.settings.regimes
        # the whole frame: the check reads only the rows up to the window's last snapshot
        return check_reversal(
            self.closes,
            window,
            r.reversal,
            self.settings.alerts.enter_percentile,
            as_of,
            spread_max_age_days=r.staleness.spread_days,
            ppi_yoy=self.ppi,
            ppi_max_age_days=r.staleness.ppi_days,
            spread_error=self.errors.get("spread"),
            min_history_days=self.settings.alerts.min_history_days,
            incomplete=self.incomplete_after(window[-1] if window else None, as_of),
        )

    def breadth(self, as_of: date) -> ScenarioResult:
        r = self.settings.regimes
        return check_breadth(r.boards, self.board_points, as_of, r.staleness.board_days, self.board_errors)

    def evaluate(
        self, as_of: date, snap: Ranked | None, window: Sequence[Ranked]
    ) -> tuple[tuple[ScenarioResult, ...], ScenarioResult]:
        """Every scenario and the composite on ``as_of``: ``snap`` is the last snapshot on or before it,
        ``window`` the snapshots from ``reversal_window_start`` to it."""
        if snap is not None and not window:
            window = [snap]  # older than the window's start: the reversal says since when it is stale
        scenarios = (self.macro(as_of), self.heat(snap, as_of), self.reversal(window, as_of), self.breadth(as_of))
        return scenarios, self.composite(as_of, snap, scenarios)

    def composite(self, as_of: date, snap: Ranked | None, scenarios: Sequence[ScenarioResult]) -> ScenarioResult:
        st = self.settings.regimes.staleness
        return check_composite(
            snap,
            self.settings.alerts.enter_percentile,
            scenarios,
            as_of,
            st.spread_days,
            self.errors.get("spread"),
            min_history_days=self.settings.alerts.min_history_days,
            incomplete=self.incomplete_after(snap, as_of),
        )


def _load_each(files: Any, errors: dict[str, str | None], first_error: str) -> FileInputs:
    loaded: dict[str, Any] = {}
    for kind in ("pmi", "amount", "pe"):
        spec = getattr(files, kind)
        if spec is None:
            continue
        try:
            loaded[kind] = getattr(load_file_inputs(InputFiles(**{kind: spec})), kind)
        except InputFileError as exc:
            errors[{"pmi": "pmi", "amount": "amount", "pe": "analysis"}[kind]] = str(exc)
    return FileInputs(loaded.get("pmi"), loaded.get("amount"), loaded.get("pe"))
