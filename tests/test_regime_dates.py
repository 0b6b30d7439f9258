"""The dates a regime answer shows: nothing after its day; "since" from the day-by-day evaluation; "stale
since" the day an input went stale, its newest date beside it.

The store: the real Shenwan closes, the shared PMI and turnover files, a ``run-daily`` on 2026-06-02 (the
states and the report it records) and a policy event of 2026-05-20. Then ``regime --as-of`` earlier days.
"""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from support.bot_harness import SOURCE, filled_db  # noqa: F401

from bot.cli.main import main
from jobs.config.settings import Settings, parse_settings
from jobs.regimes.history import ALL, build_history
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import RegimeReport, evaluate_regimes, stored_report
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW, PMI, AMOUNT = DATA / "sw_l1_daily.csv", DATA / "cn_pmi_monthly.csv", DATA / "sw_l1_amount_daily.csv"
pytestmark = pytest.mark.skipif(not all(p.exists() for p in (SW, PMI, AMOUNT)), reason="shared data absent")

RECORDED, EVENT = date(2026, 6, 2), date(2026, 5, 20)
DATE = re.compile(r"\b(\d{4})-(\d{2})(?:-(\d{2}))?\b")


class Case:
    def __init__(self, settings: Settings, config: Path) -> None:
        self.settings, self.config = settings, config
        self.store = Store(settings.storage.path)


@pytest.fixture(scope="module")
def case(filled_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Case:
    tmp = tmp_path_factory.mktemp("dates")
    db = tmp / "dates.db"
    shutil.copyfile(filled_db, db)
    raw = {
        "data": {"source": SOURCE},
        "storage": {"path": str(db)},
        "regimes": {"inputs": {"pmi": f"csv:{PMI}", "amount": f"csv:{AMOUNT}"}},
    }
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    c = Case(parse_settings(raw), config)
    RegimeRepo(c.store).add_event(EVENT, "a policy turn", "admin")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TELEGRAM_BOT_TOKEN", raising=False)
        assert main(["run-daily", "--config", str(config), "--as-of", RECORDED.isoformat()]) == 0
    return c


def answer(case: Case, capsys: pytest.CaptureFixture[str], as_of: date, *extra: str) -> str:
    capsys.readouterr()
    code = main(["regime", "--config", str(case.config), "--as-of", as_of.isoformat(), "--no-refresh", *extra])
    assert code == 0
    return capsys.readouterr().out


def dates_in(text: str) -> list[tuple[str, date]]:
    """Every date (YYYY-MM-DD) and month (YYYY-MM, as its first day) written in ``text``."""
    return [(m.group(0), date(int(m.group(1)), int(m.group(2)), int(m.group(3) or 1))) for m in DATE.finditer(text)]


@pytest.mark.parametrize(
    "as_of",
    [date(2025, 2, 14), date(2025, 2, 15), date(2026, 5, 19), date(2026, 5, 22), date(2026, 9, 1)],
    ids=["trading-day", "saturday", "before-the-event", "after-the-event", "stale"],
)
def test_no_date_in_a_regime_answer_is_after_its_day(
    case: Case, capsys: pytest.CaptureFixture[str], as_of: date
) -> None:
    for extra in (("--json",), ("--lang", "en"), ("--lang", "zh")):
        out = answer(case, capsys, as_of, *extra)
        found = dates_in(out)
        assert found, extra
        late = [text for text, d in found if d > as_of]
        assert late == [], (extra, late)
    data = json.loads(answer(case, capsys, as_of, "--json"))
    assert [e["date"] for e in data["events"]] == ([EVENT.isoformat()] if as_of >= EVENT else [])


def run_starts(case: Case, as_of: date, report: RegimeReport) -> dict[str, date]:
    """The first day of each state on ``as_of``, read off the regime history up to ``as_of``."""
    history = build_history(case.store, case.settings, SOURCE, end=as_of)
    out = {}
    for s in ALL:
        state = next(r.state for r in report.all if r.scenario == s)
        last = history.runs(s)[-1]
        if history.last == as_of:
            assert last.state == state, s  # the history's last day is the live answer
        # on a day without a snapshot (a Saturday) a state that differs from the last day's is new that day
        out[s.value] = last.start if last.state == state else as_of
    return out


@pytest.mark.parametrize(
    "as_of",
    [date(2011, 1, 13), date(2025, 2, 14), date(2025, 2, 15), date(2026, 5, 22), RECORDED],
    ids=["short-history", "trading-day", "saturday", "after-the-event", "recorded-day"],
)
def test_since_is_the_first_day_of_the_state_in_the_history(case: Case, as_of: date) -> None:
    report = evaluate_regimes(case.store, case.settings, SOURCE, as_of)
    assert report.since == run_starts(case, as_of, report)
    assert all(d <= as_of for d in report.since.values())


def test_the_recorded_report_dates_its_states_from_the_history(case: Case) -> None:
    report = stored_report(case.store)
    assert report is not None and report.as_of == RECORDED
    history = build_history(case.store, case.settings, SOURCE, end=RECORDED)
    assert report.since == {s.value: history.runs(s)[-1].start for s in ALL}
    # macro is on since the event, heat for months (the run-daily used to say "since 2026-06-02" for both)
    assert report.since["macro"] == EVENT and report.since["heat"] < date(2026, 5, 13)


def test_an_earlier_day_does_not_borrow_the_recorded_states(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    data = json.loads(answer(case, capsys, date(2025, 2, 14), "--json"))
    macro = next(s for s in data["scenarios"] if s["scenario"] == "macro")
    assert macro["state"] == "on" and data["since"]["macro"] <= "2025-02-14"
    out = answer(case, capsys, date(2025, 2, 14), "--lang", "en")
    assert RECORDED.isoformat() not in out and "since 2026" not in out


def test_stale_since_is_the_day_the_input_went_stale(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    as_of = date(2026, 9, 1)
    data = json.loads(answer(case, capsys, as_of, "--json"))
    by = {s["scenario"]: s for s in [*data["scenarios"], data["composite"]]}
    # the file's last month, 2026-04, counts from 2026-05-01; 45 days later it is stale
    assert (by["macro"]["stale_since"], by["macro"]["as_of"]) == ("2026-06-16", "2026-05-01")
    # the last closes are of 2026-06-02; after 7 days the spread (and what reads it) is stale
    for name in ("composite", "heat", "reversal"):
        assert (by[name]["stale_since"], by[name]["as_of"]) == ("2026-06-10", "2026-06-02"), name
    out = answer(case, capsys, as_of, "--lang", "en")
    assert "Macro: recovery falsified / policy turn: unknown (stale since 2026-06-16; newest data 2026-05-01)" in out
    assert "Convergence risk: unknown (stale since 2026-06-10; newest data 2026-06-02)" in out
