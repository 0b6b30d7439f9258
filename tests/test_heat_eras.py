"""Heat ranks a measure only against the stretch of data since the last hole: the shared turnover file has
nothing from 2014-02-21 to 2021-12-12, and the years before the hole (another classification) must not
count towards the 250 days a percentile needs, nor be ranked against."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.cli_support import spreadwatch

from jobs.config.regime_settings import HeatSettings
from jobs.regimes.heat import HeatSeries, Points, judge_heat
from jobs.regimes.types import State

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _weekdays(start: date, n: int) -> list[date]:
    days, d = [], start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _points(days: list[date], values: list[float]) -> Points:
    return Points(np.array(days, dtype="datetime64[D]"), np.array(values, dtype=float))


def test_since_last_hole_keeps_the_stretch_after_the_last_long_gap() -> None:
    before = _weekdays(date(2013, 1, 1), 300)
    after = _weekdays(date(2021, 12, 13), 40)
    p = _points(before + after, [1.0] * 300 + [2.0] * 40)
    assert len(p.since_last_hole()) == 40
    assert p.since_last_hole().values.tolist() == [2.0] * 40
    # a long weekend or the Spring Festival is no hole
    festival = _weekdays(date(2024, 1, 2), 20) + _weekdays(date(2024, 2, 19), 20)
    assert len(_points(festival, [1.0] * 40).since_last_hole()) == 40


@pytest.mark.parametrize(("after_hole", "expected"), [(249, State.UNKNOWN), (250, State.ON)])
def test_a_percentile_needs_its_days_after_the_hole(after_hole: int, expected: State) -> None:
    # 400 low days before a seven-year hole, then a rising share: before the fix the old era counted
    # towards the 250 days and its low values made the last one look like a high
    before = _weekdays(date(2012, 1, 2), 400)
    after = _weekdays(date(2021, 12, 13), after_hole)
    values = [1.0] * 400 + [10.0 + i * 0.01 for i in range(after_hole)]
    share = _points(before + after, values)
    as_of = after[-1]
    result = judge_heat(
        ["A", "B", "C", "D", "E"], HeatSettings(), as_of, HeatSeries(share, Points.none(), Points.none())
    )
    assert result.state == expected, result.reason
    if expected == State.UNKNOWN:
        assert result.code == "short_history"


def test_heat_on_the_shared_turnover_file_waits_for_its_own_history(tmp_path: Path) -> None:
    if not (DATA / "sw_l1_amount_daily.csv").exists():
        pytest.fail("shared data not present")
    config = tmp_path / "c.yaml"
    settings = {
        "data": {"source": f"csv:{DATA / 'sw_l1_daily.csv'}"},
        "storage": {"path": str(tmp_path / "s.db")},
        "regimes": {"inputs": {"amount": f"csv:{DATA / 'sw_l1_amount_daily.csv'}"}},
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    run = spreadwatch(
        "regime",
        "--history",
        "--config",
        str(config),
        "--from",
        "2014-02-18",
        "--to",
        "2023-02-10",
        "--json",
        cwd=tmp_path,
    )
    assert run.code == 0, run.err
    days = {d["date"]: (d["heat"]["state"], d["heat"]["code"]) for d in json.loads(run.out)["days"]}
    # the staleness allowance: the file's last row before the hole is 2014-02-20
    assert all(days[d][0] == "on" for d in ("2014-02-21", "2014-02-27"))
    assert days["2014-02-28"] == ("unknown", "stale")
    # one rule through December 2022: no day ranks against a mixed-era history
    december = [v for d, v in days.items() if "2022-01-10" <= d <= "2023-02-01"]
    assert december and set(december) == {("unknown", "short_history")}
    assert days["2023-02-02"][0] != "unknown"
