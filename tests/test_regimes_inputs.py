"""Regime inputs fetched through akshare, intercepted at the HTTP layer with payloads shaped like upstream's."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
import requests
import responses
from responses import matchers

from jobs.config.settings import Settings, parse_settings
from jobs.regimes.inputs import refresh_regime_inputs
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import evaluate_regimes
from jobs.regimes.types import State
from jobs.store.datastore import Store

EM_DATA_URL = "https://datacenter-web.eastmoney.com/api/data/v1/get"
SW_ANALYSIS_URL = "https://www.swsresearch.com/institute-sw/api/index_analysis/index_analysis_report/"
CONCEPT_LIST_URL = "https://79.push2.eastmoney.com/api/qt/clist/get"
INDUSTRY_LIST_URL = "https://17.push2.eastmoney.com/api/qt/clist/get"
CONS_URL = "https://29.push2.eastmoney.com/api/qt/clist/get"
BOARD = "DeepSeek概念"


def settings_for(db: Path, **regimes: Any) -> Settings:
    return parse_settings(
        {
            "data": {"source": "akshare", "fetch_timeout_s": 5, "fetch_retries": 1, "backoff_s": 0},
            "storage": {"path": str(db)},
            "regimes": regimes,
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "r.db")


# -- payloads --------------------------------------------------------------------------------------
def pmi_payload(points: list[tuple[str, float]]) -> dict[str, Any]:
    """RPT_ECONOMY_PMI: newest first, months as 2024年06月份, like the datacenter answers."""
    rows = [
        {
            "REPORT_DATE": f"{m}-01 00:00:00",
            "TIME": f"{m[:4]}年{m[5:]}月份",
            "MAKE_INDEX": v,
            "MAKE_SAME": 1.2,
            "NMAKE_INDEX": 51.0,
            "NMAKE_SAME": -0.4,
        }
        for m, v in sorted(points, reverse=True)
    ]
    return {"version": "x", "result": {"pages": 1, "data": rows, "count": len(rows)}, "success": True, "code": 0}


def ppi_payload(points: list[tuple[str, float]]) -> dict[str, Any]:
    rows = [
        {
            "REPORT_DATE": f"{m}-01 00:00:00",
            "TIME": f"{m[:4]}年{m[5:]}月份",
            "BASE": 100 + v,
            "BASE_SAME": v,
            "BASE_ACCUMULATE": v,
        }
        for m, v in sorted(points, reverse=True)
    ]
    return {"result": {"pages": 1, "data": rows, "count": len(rows)}, "success": True}


def add_pmi(rsps: responses.RequestsMock, body: Any, status: int = 200) -> None:
    rsps.add(
        responses.GET,
        EM_DATA_URL,
        body=body if isinstance(body, str) else json.dumps(body),
        status=status,
        match=[matchers.query_param_matcher({"reportName": "RPT_ECONOMY_PMI"}, strict_match=False)],
    )


def analysis_record(day: str, code: str, name: str, share: float, pe: float) -> dict[str, Any]:
    return {
        "swindexcode": code, "swindexname": name, "bargaindate": day, "closeindex": 3000.0,
        "bargainamount": 12.5, "markup": 0.8, "turnoverrate": 1.9, "pe": pe, "pb": 2.1,
        "meanprice": 12.3, "bargainsumrate": share, "negotiablessharesum1": 1e11,
        "negotiablessharesum2": 1e9, "dp": 1.5,
    }  # fmt: skip


def add_analysis(
    rsps: responses.RequestsMock, records: list[dict[str, Any]] | None = None, raw: str | None = None
) -> None:
    """Serves pages of 50 like the Shenwan API (``data.count`` + ``data.results``)."""

    def reply(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        if raw is not None:
            return 200, {}, raw
        page = int(parse_qs(urlparse(request.url).query)["page"][0])
        data = records or []
        body = {"code": 200, "message": "", "data": {"count": len(data), "results": data[(page - 1) * 50 : page * 50]}}
        return 200, {}, json.dumps(body)

    rsps.add_callback(responses.GET, SW_ANALYSIS_URL, callback=reply)


def em_list(rows: list[dict[int, Any]], width: int) -> dict[str, Any]:
    """An EastMoney clist answer whose fields sit at the positions akshare renames them from."""
    diff = []
    for values in rows:
        # akshare renames columns by position; "f3" must exist because it sorts by it
        diff.append({("f3" if p == 3 else f"k{p}"): values.get(p, 0.5) for p in range(1, width + 1)})
    return {"rc": 0, "data": {"total": len(diff), "diff": diff}}


def add_boards(
    rsps: responses.RequestsMock, board_cap: float = 6.7e12, market_cap: float = 100e12, count: int = 231
) -> None:
    industries = [{12: f"BK{i:04d}", 14: f"行业{i}", 19: market_cap / 4} for i in range(4)]
    rsps.add(responses.GET, INDUSTRY_LIST_URL, json=em_list(industries, 41))
    concepts = [{6: "BK1234", 7: BOARD, 12: board_cap}, {6: "BK0001", 7: "融资融券", 12: 5e13}]
    rsps.add(responses.GET, CONCEPT_LIST_URL, json=em_list(concepts, 26))
    members = [{12: f"{600000 + i}", 14: f"股票{i}"} for i in range(count)]
    rsps.add(responses.GET, CONS_URL, json=em_list(members, 32))


# -- PMI -------------------------------------------------------------------------------------------
PMI = [("2024-01", 50.8), ("2024-02", 50.4), ("2024-03", 50.6), ("2024-04", 49.5)]


def test_pmi_fetched_stored_and_lights_macro(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "r.db")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, pmi_payload(PMI))
        out = refresh_regime_inputs(store, settings, date(2024, 5, 6))
    pmi = next(o for o in out if o.kind == "pmi")
    assert pmi.ok and pmi.rows == 4 and pmi.last_date == date(2024, 4, 1)
    series = RegimeRepo(store).load_series("pmi")
    assert list(series.round(1)) == [50.8, 50.4, 50.6, 49.5]  # ascending although upstream sends newest first
    rec = store.last_fetch("akshare", "pmi")
    assert rec is not None and rec.ok
    report = evaluate_regimes(store, settings, "akshare", date(2024, 5, 6))
    macro = report.scenarios[0]
    assert macro.state == State.ON and macro.code == "pmi_below_line"


@pytest.mark.parametrize(
    ("body", "status", "why"),
    [
        ({"result": None, "success": False}, 200, "TypeError"),  # the datacenter's "no such report"
        ({"result": {"pages": 0, "data": [], "count": 0}}, 200, ""),  # empty
        ("<html>502 Bad Gateway</html>", 200, "not JSON"),
        (pmi_payload([("2024-05", 512.0)]), 200, "implausible"),  # a value off by a factor of ten
        (pmi_payload([("2024-05", 49.0), ("2024-05", 49.1)]), 200, "duplicate"),
        (pmi_payload([("2099-05", 49.0)]), 200, "future"),
    ],
)
def test_bad_pmi_payload_keeps_last_good_data(store: Store, tmp_path: Path, body: Any, status: int, why: str) -> None:
    settings = settings_for(tmp_path / "r.db")
    RegimeRepo(store).save_series(
        "pmi", [(date(2024, m, 1), v) for m, v in zip(range(1, 5), [50.8, 50.4, 50.6, 49.5], strict=True)]
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, body, status)
        out = refresh_regime_inputs(store, settings, date(2024, 6, 3), force=True)
    pmi = next(o for o in out if o.kind == "pmi")
    assert not pmi.ok and why in pmi.message
    assert len(RegimeRepo(store).load_series("pmi")) == 4
    rec = store.last_fetch("akshare", "pmi")
    assert rec is not None and not rec.ok and rec.last_date == date(2024, 4, 1)
    # the stored April print is still within its staleness limit on 2024-06-03: the state stands,
    # and the failed fetch is reported next to it
    macro = evaluate_regimes(store, settings, "akshare", date(2024, 6, 3)).scenarios[0]
    assert macro.state == State.ON and macro.inputs[0].error is not None
    # ... but once stale, a failing feed shows unknown, never on
    later = evaluate_regimes(store, settings, "akshare", date(2024, 7, 20)).scenarios[0]
    assert later.state == State.UNKNOWN and later.stale_since == date(2024, 6, 15)
    assert later.as_of == date(2024, 4, 30)


def test_pmi_is_fetched_only_after_the_next_release(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "r.db")
    RegimeRepo(store).save_series("pmi", [(date(2024, 4, 1), 49.5)])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_analysis(rsps, raw="{}")
        out = refresh_regime_inputs(store, settings, date(2024, 5, 20))  # May's PMI comes out on 05-31
        assert "pmi" not in [o.kind for o in out]
        assert not [c for c in rsps.calls if "RPT_ECONOMY_PMI" in (c.request.url or "")]
        add_pmi(rsps, pmi_payload([*PMI, ("2024-05", 49.1)]))
        out = refresh_regime_inputs(store, settings, date(2024, 5, 31))
        assert [o.rows for o in out if o.kind == "pmi"] == [4]  # Jan-Mar and May were new


def test_ppi_is_fetched_when_a_scenario_uses_it(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "r.db", macro={"use_ppi": True})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, pmi_payload(PMI))
        rsps.add(
            responses.GET,
            EM_DATA_URL,
            json=ppi_payload([("2024-01", 1.0), ("2024-02", 0.5), ("2024-03", 0.1), ("2024-04", -0.4)]),
            match=[matchers.query_param_matcher({"reportName": "RPT_ECONOMY_PPI"}, strict_match=False)],
        )
        add_analysis(rsps, raw="{}")
        refresh_regime_inputs(store, settings, date(2024, 5, 12))
    assert list(RegimeRepo(store).load_series("ppi_yoy")) == [1.0, 0.5, 0.1, -0.4]


def test_offline_sources_never_fetch(tmp_path: Path) -> None:
    store = Store(tmp_path / "o.db")
    settings = parse_settings({"storage": {"path": str(tmp_path / "o.db")}})  # data.source: sample
    with responses.RequestsMock() as rsps:  # any request would raise
        assert refresh_regime_inputs(store, settings, date(2024, 5, 31)) == []
        assert not rsps.calls


# -- Shenwan daily analysis ------------------------------------------------------------------------
SW3 = [("801750", "计算机", 50.0, 60.0), ("801080", "电子", 30.0, 45.0), ("801780", "银行", 20.0, 6.0)]


def test_sw_analysis_fetched_validated_and_stored(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "r.db")
    records = [analysis_record(d, c, n, s, pe) for d in ("2025-02-13", "2025-02-14") for c, n, s, pe in SW3]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, pmi_payload(PMI))
        add_analysis(rsps, records)
        out = refresh_regime_inputs(store, settings, date(2025, 2, 14))
    sw = next(o for o in out if o.kind == "sw_analysis")
    assert sw.ok and sw.rows == 6 and sw.last_date == date(2025, 2, 14)
    frame = RegimeRepo(store).load_analysis()
    assert set(frame["code"]) == {"801750", "801080", "801780"}
    assert frame.loc[frame["code"] == "801750", "pe"].tolist() == [60.0, 60.0]


@pytest.mark.parametrize(
    ("records", "raw", "why"),
    [
        ([], None, "expected fields"),  # count 0: akshare finds no columns to rename
        (None, '{"code": 500, "data": null}', ""),
        (None, "not json at all", "not JSON"),
        ([analysis_record("2025-02-14", c, n, s * 0.5, pe) for c, n, s, pe in SW3], None, "add up"),
        ([analysis_record("2025-02-14", "80175", "计算机", 100.0, 60.0)], None, "malformed index code"),
        (
            [analysis_record("2025-02-13", c, n, s, pe) for c, n, s, pe in SW3]
            + [analysis_record("2025-02-14", c, n, s, pe) for c, n, s, pe in SW3[:2]],
            None,
            "fewer industries",
        ),
    ],
)
def test_bad_sw_analysis_is_rejected_whole(
    store: Store, tmp_path: Path, records: list[dict[str, Any]] | None, raw: str | None, why: str
) -> None:
    settings = settings_for(tmp_path / "r.db")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, pmi_payload(PMI))
        add_analysis(rsps, records, raw)
        out = refresh_regime_inputs(store, settings, date(2025, 2, 14))
    sw = next(o for o in out if o.kind == "sw_analysis")
    assert not sw.ok and why in sw.message, sw.message
    assert RegimeRepo(store).load_analysis().empty
    rec = store.last_fetch("akshare", "sw_analysis")
    assert rec is not None and not rec.ok


# -- concept boards --------------------------------------------------------------------------------
def test_board_snapshot_count_and_share(store: Store, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "r.db", boards=[{"name": BOARD, "watch_share_pct": 5, "on_share_pct": 8}])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, pmi_payload(PMI))
        add_analysis(rsps, raw="{}")
        add_boards(rsps)
        out = refresh_regime_inputs(store, settings, date(2025, 2, 14))
    assert [o.ok for o in out if o.kind in ("market_cap", f"board:{BOARD}")] == [True, True]
    (point,) = RegimeRepo(store).board_points([BOARD])
    assert point.constituents == 231
    assert point.share == pytest.approx(6.7)
    breadth = evaluate_regimes(store, settings, "akshare", date(2025, 2, 14)).scenarios[3]
    assert breadth.state == State.WATCH
    assert {e.key: e.value for e in breadth.evidence}["board_count"] == 231


def test_board_list_is_read_fresh_every_time(store: Store, tmp_path: Path) -> None:
    """akshare caches the concept list per process; a daily snapshot must not reuse yesterday's caps."""
    settings = settings_for(tmp_path / "r.db", boards=[{"name": BOARD}])
    for day, cap in ((date(2025, 2, 13), 5.0e12), (date(2025, 2, 14), 6.7e12)):
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            add_pmi(rsps, pmi_payload(PMI))
            add_analysis(rsps, raw="{}")
            add_boards(rsps, board_cap=cap)
            refresh_regime_inputs(store, settings, day)
    shares = [round(p.share, 2) for p in RegimeRepo(store).board_points([BOARD])]
    assert shares == [5.0, 6.7]


@pytest.mark.parametrize("what", ["missing board", "malformed list", "empty constituents"])
def test_bad_board_answers_leave_breadth_unknown(store: Store, tmp_path: Path, what: str) -> None:
    settings = settings_for(tmp_path / "r.db", boards=[{"name": BOARD}])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        add_pmi(rsps, pmi_payload(PMI))
        add_analysis(rsps, raw="{}")
        rsps.add(responses.GET, INDUSTRY_LIST_URL, json=em_list([{12: "BK1", 14: "行业", 19: 9e13}], 41))
        if what == "missing board":
            rsps.add(responses.GET, CONCEPT_LIST_URL, json=em_list([{6: "BK0001", 7: "融资融券", 12: 5e13}], 26))
        elif what == "malformed list":
            rsps.add(responses.GET, CONCEPT_LIST_URL, json={"rc": 102, "data": None})
        else:
            rsps.add(responses.GET, CONCEPT_LIST_URL, json=em_list([{6: "BK1234", 7: BOARD, 12: 5e12}], 26))
            rsps.add(responses.GET, CONS_URL, json={"rc": 0, "data": {"total": 0, "diff": []}})
        out = refresh_regime_inputs(store, settings, date(2025, 2, 14))
    board = next(o for o in out if o.kind == f"board:{BOARD}")
    assert not board.ok
    assert RegimeRepo(store).board_points([BOARD]) == []
    breadth = evaluate_regimes(store, settings, "akshare", date(2025, 2, 14)).scenarios[3]
    assert breadth.state == State.UNKNOWN


def test_analysis_frame_feeds_heat(store: Store) -> None:
    """The stored analysis comes back in the long form the heat check reads."""
    rows = pd.DataFrame(
        {
            "date": [date(2025, 2, 14)] * 3,
            "code": [c for c, *_ in SW3],
            "name": [n for _, n, *_ in SW3],
            "share": [s for *_, s, _ in SW3],
            "pe": [pe for *_, pe in SW3],
            "pb": [2.0] * 3,
        }
    )
    RegimeRepo(store).save_analysis(rows)
    frame = RegimeRepo(store).load_analysis()
    assert list(frame.columns) == ["date", "code", "share", "pe"]
    assert frame["share"].sum() == pytest.approx(100.0)
