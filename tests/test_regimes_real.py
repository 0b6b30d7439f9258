"""The reversal check and the composite on the real Shenwan history, 2024-06 → 2025-03.

The expected answers are computed here independently, with plain loops over the CSV rows (no
pandas, no code of ours): six-month gains from the first trading day after D minus six calendar
months, the spread and its percentile since 2010, the top and bottom five, their returns.
"""

from __future__ import annotations

import calendar
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from jobs.config.regime_settings import HeatSettings, MacroSettings, ReversalSettings
from jobs.engine.spread import compute_history
from jobs.model.figures import NameBook, SpreadHistory
from jobs.regimes.composite import check_composite
from jobs.regimes.heat import check_heat
from jobs.regimes.macro import check_macro
from jobs.regimes.reversal import check_reversal
from jobs.regimes.types import ScenarioResult, State

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW, AMOUNT, PMI = DATA / "sw_l1_daily.csv", DATA / "sw_l1_amount_daily.csv", DATA / "cn_pmi_monthly.csv"
pytestmark = pytest.mark.skipif(not (SW.exists() and AMOUNT.exists() and PMI.exists()), reason="shared data absent")

START, END = date(2024, 6, 1), date(2025, 3, 31)
THRESHOLD = 90.0
REV = ReversalSettings(n_days=20, x_points=5.0, watch_points=2.5)


# -- independent reference -------------------------------------------------------------------------
def rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        yield from csv.DictReader(f)


def six_months_before(d: date) -> date:
    y, m = (d.year, d.month - 6) if d.month > 6 else (d.year - 1, d.month + 6)
    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


@dataclass
class Day:
    spread: float
    top: list[str]
    bottom: list[str]


@dataclass
class Reference:
    days: list[date]
    closes: dict[date, dict[str, float]]
    by_day: dict[date, Day]

    def percentile(self, d: date) -> float:
        history = [v.spread for day, v in self.by_day.items() if day <= d]
        return 100.0 * sum(1 for s in history if s <= self.by_day[d].spread) / len(history)


@pytest.fixture(scope="module")
def ref() -> Reference:
    closes: dict[date, dict[str, float]] = {}
    for r in rows(SW):
        closes.setdefault(date.fromisoformat(r["date"]), {})[r["code"]] = float(r["close"])
    days = sorted(closes)
    by_day: dict[date, Day] = {}
    j = 0
    for d in days:
        cut = six_months_before(d)
        while days[j] <= cut:
            j += 1
        base = days[j]
        if j == 0 or base >= d:  # no trading day on or before D - 6 months: no six-month gain yet
            continue
        gains = []
        for code, c in closes[d].items():
            if code in closes[base]:
                gains.append(((c / closes[base][code] - 1) * 100, code))
        if len(gains) < 10:
            continue
        gains.sort(reverse=True)
        top, bottom = gains[:5], gains[-5:]
        spread = sum(g for g, _ in top) / 5 - sum(g for g, _ in bottom) / 5
        by_day[d] = Day(spread, [c for _, c in top], [c for _, c in bottom])
    return Reference(days, closes, by_day)


def expected_reversal(ref: Reference, d: date) -> tuple[State, float]:
    i = ref.days.index(d)
    start = ref.days[i - REV.n_days]
    s = ref.by_day[start]

    def ret(code: str) -> float:
        return (ref.closes[d][code] / ref.closes[start][code] - 1) * 100

    relative = sum(ret(c) for c in s.top) / 5 - sum(ret(c) for c in s.bottom) / 5
    above = ref.percentile(d) >= THRESHOLD
    if above and relative < -REV.x_points:
        return State.ON, relative
    if above and relative < -REV.watch_points:
        return State.WATCH, relative
    return State.OFF, relative


# -- what the service computes ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def history() -> SpreadHistory:
    frame = pd.read_csv(SW, dtype={"code": str})
    frame["date"] = pd.to_datetime(frame["date"])
    wide = frame.pivot(index="date", columns="code", values="close")
    names = NameBook(
        (c, d.date(), n)
        for c, d, n in frame.drop_duplicates(["code", "name"])[["code", "date", "name"]].itertuples(index=False)
    )
    return compute_history(wide, names, "6M", 5, date(2010, 1, 1))


def window_days(ref: Reference) -> list[date]:
    return [d for d in ref.days if START <= d <= END]


def reversal_on(history: SpreadHistory, ref: Reference, d: date) -> ScenarioResult:
    i = ref.days.index(d)
    snaps = [history.snapshot(x) for x in ref.days[i - REV.n_days : i + 1]]
    wide = pd.DataFrame.from_dict(
        {pd.Timestamp(x): ref.closes[x] for x in ref.days[i - REV.n_days - 5 : i + 1]}, orient="index"
    )
    return check_reversal(wide, [s for s in snaps if s is not None], REV, THRESHOLD, d)


def test_reversal_matches_its_definition_day_by_day(history: SpreadHistory, ref: Reference) -> None:
    got, want = [], []
    for d in window_days(ref):
        r = reversal_on(history, ref, d)
        state, relative = expected_reversal(ref, d)
        got.append((d, r.state))
        want.append((d, state))
        assert {e.key: e.value for e in r.evidence}["relative"] == pytest.approx(relative, abs=1e-6), d
    assert got == want
    states = {s for _, s in want}
    # the window holds both an extreme with the leaders falling behind and quiet days
    assert State.ON in states and State.OFF in states
    first_on = next(d for d, s in want if s == State.ON)
    assert first_on.year == 2024 and first_on.month >= 11, first_on


# -- the composite ---------------------------------------------------------------------------------
def pmi_series() -> pd.Series:
    pts = {pd.Timestamp(r["month"] + "-01"): float(r["pmi"]) for r in rows(PMI)}
    return pd.Series(pts).sort_index()


def expected_macro(d: date) -> State:
    m = MacroSettings()
    released = [(r["month"], float(r["pmi"])) for r in rows(PMI)]
    vals = []
    for month, v in released:
        y, mo = int(month[:4]), int(month[5:])
        if date(y, mo, calendar.monthrange(y, mo)[1]) <= d:
            vals.append(v)
    crossed = False
    k = len(vals) - 1
    while k > 0 and vals[k] < m.pmi_line:
        if vals[k - 1] >= m.pmi_line:
            crossed = len(vals) - 1 - k < m.cross_memory_months
            break
        k -= 1
    falls = 0
    while falls + 1 < len(vals) and vals[-1 - falls] < vals[-2 - falls]:
        falls += 1
    if crossed or falls >= m.falling_months:
        return State.ON
    if vals[-1] < m.pmi_line or falls == m.falling_months - 1:
        return State.WATCH
    return State.OFF


def amounts_by_day() -> dict[date, dict[str, float]]:
    out: dict[date, dict[str, float]] = {}
    for r in rows(AMOUNT):
        out.setdefault(date.fromisoformat(r["date"]), {})[r["code"]] = float(r["amount"])
    return out


def expected_heat(amounts: dict[date, dict[str, float]], top: list[str], d: date, h: HeatSettings) -> State:
    shares = []
    for day in sorted(amounts):
        if day > d:
            break
        a = amounts[day]
        if all(c in a and a[c] > 0 for c in top):
            shares.append(100 * sum(a[c] for c in top) / sum(a.values()))
    smooth = [sum(shares[i - h.smooth_days + 1 : i + 1]) / h.smooth_days for i in range(h.smooth_days - 1, len(shares))]
    if len(smooth) < h.min_history_days:
        return State.UNKNOWN
    p = 100 * sum(1 for v in smooth if v <= smooth[-1]) / len(smooth)
    return State.ON if p >= h.on_percentile else State.WATCH if p >= h.watch_percentile else State.OFF


def test_composite_matches_its_definition_on_weekly_days(history: SpreadHistory, ref: Reference) -> None:
    pmi = pmi_series()
    amount_rows = amounts_by_day()
    frame = pd.read_csv(AMOUNT, dtype={"code": str})
    frame["date"] = pd.to_datetime(frame["date"])
    amounts = frame.pivot(index="date", columns="code", values="amount")
    heat_settings = HeatSettings()
    days = window_days(ref)
    # the last trading day of each week keeps the loop short
    weekly = [d for i, d in enumerate(days) if i + 1 == len(days) or days[i + 1].isocalendar()[1] != d.isocalendar()[1]]
    seen = set()
    for d in weekly:
        snap = history.snapshot(d)
        assert snap is not None and snap.as_of == d
        assert snap.percentile == pytest.approx(ref.percentile(d), abs=1e-9)
        top = ref.by_day[d].top
        assert [g.code for g in snap.top] == top
        macro = check_macro(pmi, MacroSettings(), d)
        heat = check_heat(top, heat_settings, d, amounts=amounts)
        reversal = reversal_on(history, ref, d)
        assert macro.state == expected_macro(d), d
        assert heat.state == expected_heat(amount_rows, top, d, heat_settings), d
        composite = check_composite(snap, THRESHOLD, [macro, heat, reversal], d)
        lit = State.ON in (
            expected_macro(d),
            expected_heat(amount_rows, top, d, heat_settings),
            expected_reversal(ref, d)[0],
        )
        want = State.ON if ref.percentile(d) >= THRESHOLD and lit else None
        if want is State.ON:
            assert composite.state == State.ON, (d, composite.reason)
        else:
            assert composite.state != State.ON, (d, composite.reason)
        if ref.percentile(d) < THRESHOLD:
            assert composite.state == State.OFF
        seen.add(composite.state)
    assert State.ON in seen and State.OFF in seen


def test_stale_inputs_never_light_the_composite(history: SpreadHistory, ref: Reference) -> None:
    """On a hot day, stale PMI and stale turnover leave the scenarios unknown and the composite not on."""
    d = max(d for d in window_days(ref) if ref.percentile(d) >= THRESHOLD)
    snap = history.snapshot(d)
    old_pmi = pmi_series().loc[:"2023-12-01"]
    frame = pd.read_csv(AMOUNT, dtype={"code": str})
    frame = frame[frame["date"] < "2024-01-01"]
    frame["date"] = pd.to_datetime(frame["date"])
    old_amounts = frame.pivot(index="date", columns="code", values="amount")
    macro = check_macro(old_pmi, MacroSettings(), d)
    heat = check_heat(ref.by_day[d].top, HeatSettings(), d, amounts=old_amounts)
    assert macro.state == State.UNKNOWN and heat.state == State.UNKNOWN
    assert macro.stale_since == date(2024, 2, 15) and macro.as_of == date(2023, 12, 31)
    composite = check_composite(snap, THRESHOLD, [macro, heat], d)
    assert composite.state == State.UNKNOWN
