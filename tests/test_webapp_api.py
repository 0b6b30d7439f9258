"""The dashboard's server (``webapp``): its settings, the JSON API over the stored snapshots, and the subscriber's
own settings behind Telegram's initData (HMAC-SHA256 keyed by the bot token, at most 24 hours old)."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from support.bot_harness import FRESH_NOW, SOURCE, filled_db  # noqa: F401 - the session fixture
from support.init_data import signed_init_data
from support.webapp_server import DashboardServer

from bot.web.daily_table import DailyTable
from jobs.alerting.services import Services
from jobs.config.settings import ConfigError, Settings, load_settings, parse_settings
from jobs.engine.pipeline import Engine
from jobs.engine.report import build_report
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store

REPO = Path(__file__).resolve().parents[1]
TOKEN = "123456789:TEST-webapp-token"
USER = 5150


def services_for(db: Path, **webapp: Any) -> Services:
    settings = parse_settings(
        {"data": {"source": SOURCE}, "storage": {"path": str(db)}, "webapp": {"listen": "127.0.0.1:0", **webapp}}
    )
    store = Store(db)
    return Services(settings, store, Engine(settings, store), ChatRepo(store), clock=lambda: FRESH_NOW)


@pytest.fixture
def db(filled_db: Path, tmp_path: Path) -> Path:  # noqa: F811
    target = tmp_path / "web.db"
    shutil.copyfile(filled_db, target)
    return target


@pytest.fixture(scope="module")
def server(filled_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:  # noqa: F811
    # one server for the module: its tests only read, or write the settings of users no other test reads
    target = tmp_path_factory.mktemp("web") / "web.db"
    shutil.copyfile(filled_db, target)
    with DashboardServer(services_for(target), TOKEN) as running:
        yield running


def call(
    server: DashboardServer, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(server.url + path, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(server: DashboardServer, path: str, **headers: str) -> tuple[int, Any]:
    status, _, body = call(server, path, headers=headers)
    return status, json.loads(body)


def auth(init_data: str) -> dict[str, str]:
    return {"Authorization": f"tma {init_data}", "Content-Type": "application/json"}


def valid_init_data(**kw: Any) -> str:
    return signed_init_data(TOKEN, USER, FRESH_NOW - timedelta(minutes=5), **kw)


# -- settings ----------------------------------------------------------------------------------------


def test_webapp_is_off_by_default_and_commented_in_the_example() -> None:
    assert Settings().webapp.address is None and Settings().webapp.public_url is None
    example, _ = load_settings(REPO / "config.example.yaml")
    assert example.webapp.address is None
    text = (REPO / "config.example.yaml").read_text(encoding="utf-8")
    assert "# webapp:" in text and "#   public_url: https://" in text


@pytest.mark.parametrize(
    ("webapp", "message"),
    [
        ({"listen": "localhost"}, "config error: webapp.listen: expected HOST:PORT"),
        ({"listen": "127.0.0.1:8380", "public_url": "http://dash.example.com"}, "config error: webapp.public_url: "),
        ({"listen": "127.0.0.1:8380", "public_url": "https://x.org/?a=1"}, "config error: webapp.public_url: "),
        ({"public_url": "https://dash.example.com"}, "config error: webapp: listen is required"),
        ({"listen": "127.0.0.1:8380", "port": 1}, "config error: webapp.port: unknown key"),
    ],
)
def test_bad_webapp_settings_name_the_key(webapp: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"webapp": webapp})
    assert str(err.value).startswith(message)


def test_public_url_is_kept_without_a_trailing_slash() -> None:
    settings = parse_settings({"webapp": {"listen": "127.0.0.1:8380", "public_url": "https://dash.example.com/sw/"}})
    assert settings.webapp.public_url == "https://dash.example.com/sw"
    assert settings.webapp.address == ("127.0.0.1", 8380)


# -- public data -------------------------------------------------------------------------------------


def test_spread_holds_every_stored_trading_day_with_its_top_and_bottom_five(server: DashboardServer) -> None:
    status, spread = get_json(server, "/api/spread")
    assert status == 200
    assert spread["days"] == len(spread["dates"]) == len(spread["spread"]) == len(spread["p90"]) == 3845
    assert spread["dates"][0] == "2010-07-05" and spread["as_of"] == spread["dates"][-1] == "2026-06-02"
    snap = server.services.store.snapshot(server.services.engine.source.name)
    assert snap is not None
    names = spread["industries"]
    assert [names[i][0] for i in spread["top"][-1]] == [g.code for g in snap.top]
    assert [names[i][0] for i in spread["bottom"][-1]] == [g.code for g in snap.bottom]
    assert spread["spread"][-1] == round(snap.spread, 2) and spread["percentile"][-1] == round(snap.percentile, 1)
    # a day at or above the P90 line has a stored percentile of at least 90 (the lines of /history)
    assert all(
        (s >= p90) == (p >= 90)
        for s, p90, p in zip(spread["spread"], spread["p90"], spread["percentile"], strict=True)
        if abs(s - p90) > 0.01 and abs(p - 90) > 0.1  # the figures are rounded
    )
    starts = [e["start"] for e in spread["episodes"]]
    assert "2025-02-10" in starts and "2014-12-04" in starts  # the README's table of episodes
    assert spread["episodes"][-1]["end"] is None  # 2026-05-13 → open


def test_industries_rank_today_as_the_report_does_and_map_24_months(server: DashboardServer) -> None:
    status, payload = get_json(server, "/api/industries")
    assert status == 200
    services = server.services
    report = build_report(services.store, services.engine.status(FRESH_NOW), services.settings.metric.history_start)
    assert report is not None
    expected = report.to_json()
    ranked = payload["ranked"]
    k = payload["k"]
    assert [(g["code"], g["gain"]) for g in ranked[:k]] == [(g["code"], round(g["gain"], 2)) for g in expected["top"]]
    assert [(g["code"], g["gain"]) for g in reversed(ranked[-k:])] == [
        (g["code"], round(g["gain"], 2)) for g in expected["bottom"]
    ]
    assert ranked[0]["name"] == "通信" and ranked[0]["name_en"] == "Telecommunications"
    heat = payload["heatmap"]
    assert len(heat["months"]) == 24 and heat["months"][-1] == "2026-06" and heat["days"][-1] == "2026-06-02"
    assert heat["codes"] == [g["code"] for g in ranked]
    assert len(heat["cells"]) == 24 * len(ranked)  # every industry of today was ranked on every month end


def test_one_industry_over_time_and_bad_codes(server: DashboardServer) -> None:
    status, telecom = get_json(server, "/api/industry/801770")
    assert status == 200
    assert telecom["name"] == "通信" and telecom["dates"][-1] == "2026-06-02" and telecom["rank"][-1] == 1
    assert len(telecom["dates"]) == len(telecom["gain"]) == len(telecom["rank"]) == 2843  # ranked since 2014-08
    assert get_json(server, "/api/industry/999999") == (404, {"error": "no stored industry '999999'"})
    status, body = get_json(server, "/api/industry/80%3Cx%3E")
    assert status == 400 and "industry code" in body["error"]


def test_scenarios_now_and_their_history_in_the_readers_language(server: DashboardServer) -> None:
    status, en = get_json(server, "/api/scenarios?lang=en")
    assert status == 200
    assert [s["scenario"] for s in en["now"]] == ["composite", "macro", "heat", "reversal", "breadth"]
    assert en["history"]["from"] == "2010-07-05" and en["history"]["to"] == "2026-06-02"
    assert set(en["history"]["runs"]) == {"macro", "heat", "reversal", "breadth", "composite"}
    _, zh = get_json(server, "/api/scenarios?lang=zh")
    assert "Convergence risk" in en["now"][0]["html"] and "收敛" in zh["now"][0]["html"]


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/api/nothing", 404, "not found"),
        ("/nothing", 404, None),
        ("/static/../server.py", 404, None),
        ("/api/spread?from=2020", 400, "unknown parameter 'from'"),
        ("/api/scenarios?lang=fr", 400, "lang: expected one of zh, en"),
        ("/api/scenarios?lang=en&lang=zh", 400, "parameter 'lang' given more than once"),
    ],
)
def test_bad_requests_get_a_reason_and_no_traceback(
    server: DashboardServer, path: str, status: int, reason: str | None
) -> None:
    got, _, body = call(server, path)
    assert got == status
    assert b"Traceback" not in body
    if reason is not None:
        assert json.loads(body) == {"error": reason}


def test_a_failure_inside_is_a_500_without_a_traceback(db: Path) -> None:
    services = services_for(db)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE snapshots RENAME TO snapshots_gone")
    with DashboardServer(services, TOKEN) as server:
        status, _, body = call(server, "/api/spread")
    assert status == 500 and json.loads(body) == {"error": "internal error"}


def test_an_empty_store_says_no_data_yet(tmp_path: Path) -> None:
    with DashboardServer(services_for(tmp_path / "empty.db"), TOKEN) as server:
        assert get_json(server, "/api/meta")[1]["has_data"] is False
        assert get_json(server, "/api/spread") == (200, {"days": 0})
        assert get_json(server, "/api/industries") == (200, {"days": 0})
        status, scenarios = get_json(server, "/api/scenarios")
        assert status == 200 and scenarios["now"] == [] and scenarios["history"] is None


def test_answers_are_gzipped_and_revalidated_by_etag(server: DashboardServer) -> None:
    status, headers, body = call(server, "/api/spread", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["days"] == 3845
    assert call(server, "/api/spread", headers={"If-None-Match": headers["Etag"]})[0] == 304
    status, headers, body = call(server, "/static/vendor/echarts.min.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip" and "javascript" in headers["Content-Type"]


def test_the_daily_table_takes_in_a_new_day_and_a_revision(db: Path) -> None:
    store = Store(db)
    source = services_for(db).engine.source.name
    table = DailyTable(source).refresh(store)
    assert len(table.rows) == 3845
    version = table.version
    assert table.refresh(store).version == version  # nothing changed: nothing read
    with store.transaction() as conn:
        last = conn.execute("SELECT MAX(date) FROM snapshots").fetchone()[0]
        conn.execute("UPDATE snapshots SET spread = 99.5, computed_at = '9999' WHERE date = ?", (last,))
    table.refresh(store)
    assert table.version == version + 1 and table.rows[-1].spread == 99.5 and len(table.rows) == 3845
    with store.transaction() as conn:
        conn.execute("DELETE FROM snapshots WHERE date = '2015-06-05'")
    table.refresh(store)
    assert len(table.rows) == 3844 and all(r.day.isoformat() != "2015-06-05" for r in table.rows)


# -- the subscriber's own settings -------------------------------------------------------------------


def test_settings_read_and_change_with_valid_init_data(server: DashboardServer) -> None:
    chats = server.services.chats
    user = USER + 1  # no other test reads this user's settings

    def valid_init_data(**kw: Any) -> str:
        return signed_init_data(TOKEN, user, FRESH_NOW - timedelta(minutes=5), **kw)

    status, me = get_json(server, "/api/me", **auth(valid_init_data(language_code="en")))
    assert status == 200
    assert me["lang"] == "en" and me["subscribed"] is False and me["default_threshold"] == 90.0
    status, _, body = call(
        server, "/api/me", {"subscribed": True, "threshold": 95, "mute_days": 7}, auth(valid_init_data())
    )
    assert status == 200
    after = json.loads(body)
    assert after["subscribed"] is True and after["threshold"] == 95.0 and after["muted_until"] == "2026-06-09"
    stored = chats.get(user)
    assert stored is not None and stored.subscribed and stored.threshold == 95.0 and stored.lang == "en"
    assert call(server, "/api/me", {"lang": "zh", "mute_days": 0}, auth(valid_init_data()))[0] == 200
    stored = chats.get(user)
    assert stored is not None and stored.lang == "zh" and stored.muted_until is None


def _forged(init_data: str) -> str:
    fields = dict(parse_qsl(init_data))
    fields["hash"] = ("0" if fields["hash"][0] != "0" else "1") + fields["hash"][1:]
    return urlencode(fields)


def _altered(init_data: str) -> str:
    fields = dict(parse_qsl(init_data))
    fields["user"] = fields["user"].replace(str(USER), "4242")  # someone else's settings, same hash
    return urlencode(fields)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Telegram initData"),
        (auth(_forged(valid_init_data())), "not signed by this bot"),
        (auth(_altered(valid_init_data())), "not signed by this bot"),
        (auth(signed_init_data("999:another-bot", USER, FRESH_NOW)), "not signed by this bot"),
        (auth(signed_init_data(TOKEN, USER, FRESH_NOW - timedelta(hours=24, minutes=1))), "expired"),
        (auth("user=%7B%7D"), "not signed by this bot"),
    ],
)
def test_forged_altered_or_expired_init_data_gets_401_and_changes_nothing(
    server: DashboardServer, headers: dict[str, str], reason: str
) -> None:
    before = [server.services.chats.get(USER), server.services.chats.get(4242)]
    status, _, body = call(
        server, "/api/me", {"subscribed": True, "lang": "zh"}, {"Content-Type": "application/json", **headers}
    )
    assert status == 401 and reason in json.loads(body)["error"]
    assert call(server, "/api/me", headers=headers)[0] == 401
    assert [server.services.chats.get(USER), server.services.chats.get(4242)] == before == [None, None]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "expected a JSON object"),
        ({}, "expected a JSON object with one or more of"),
        ({"threshold": 42}, "threshold: expected null (the default) or one of 85, 90, 95"),
        ({"mute_days": 3}, "mute_days: expected 0 (unmute) or one of 1, 7, 30"),
        ({"lang": "fr"}, "lang: expected one of zh, en"),
        ({"subscribed": "yes"}, "subscribed: expected true or false"),
        ({"admin": True}, "unknown field 'admin'"),
        ({"subscribed": True, "threshold": 1}, "threshold: expected"),  # nothing of a bad change is written
    ],
)
def test_a_bad_change_is_a_400_with_the_reason_and_writes_nothing(
    server: DashboardServer, body: Any, reason: str
) -> None:
    status, _, answer = call(server, "/api/me", body, auth(valid_init_data()))
    assert status == 400 and json.loads(answer)["error"].startswith(reason)
    assert server.services.chats.get(USER) is None
