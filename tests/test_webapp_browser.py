"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright (which cannot download its
own browser here). Marked ``browser``; skipped without Chromium, except under ``CI=true`` where that fails.

Screenshots of every page in both languages at 360×740 and 1280×800 go to ``$SPREADWATCH_ARTIFACTS/screenshots``
(default ``artifacts/screenshots`` in the repository, which CI keeps).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from support.bot_harness import FRESH_NOW, SOURCE, filled_db  # noqa: F401 - the session fixture
from support.init_data import signed_init_data
from support.webapp_server import DashboardServer

from bot.cli.main import main
from jobs.alerting.services import Services
from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("SPREADWATCH_ARTIFACTS", REPO / "artifacts")) / "screenshots"
TOKEN = "123456789:TEST-browser-token"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DARK = {"bg_color": "#17212b", "text_color": "#f5f5f5", "hint_color": "#708499", "link_color": "#6ab3f3",
        "button_color": "#5288c1", "button_text_color": "#ffffff", "secondary_bg_color": "#232e3c"}  # fmt: skip


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed: CI must run the browser tests (.ci/run installs it)")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def store_copy(filled_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    target = tmp_path_factory.mktemp("browser") / "web.db"
    shutil.copyfile(filled_db, target)
    return target


@pytest.fixture(scope="module")
def services(store_copy: Path) -> Services:
    settings = parse_settings(
        {
            "data": {"source": SOURCE},
            "storage": {"path": str(store_copy)},
            "webapp": {"listen": "127.0.0.1:0", "public": True},
        }
    )
    store = Store(store_copy)
    return Services(settings, store, Engine(settings, store), ChatRepo(store), clock=lambda: FRESH_NOW)


@pytest.fixture(scope="module")
def server(services: Services) -> Iterator[DashboardServer]:
    with DashboardServer(services, TOKEN, warm=True) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    from playwright.sync_api import sync_playwright  # only the browser tests need it

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Page:
    """A page of the dashboard with every console error and uncaught exception recorded."""

    def __init__(self, browser: Any, width: int = 360, height: int = 740, locale: str = "en") -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height}, locale=locale)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, url: str, tab: str = "spread") -> Page:
        self.page.goto(url)
        self.ready(tab)
        return self

    def ready(self, tab: str) -> None:
        self.page.wait_for_selector(f"body[data-{tab}='ready']", timeout=30_000)

    def tab(self, name: str) -> None:
        self.page.click(f"#tabs button[data-tab='{name}']")
        self.ready(name)


def telegram_url(
    server: DashboardServer, init_data: str, tab: str = "spread", theme: dict[str, str] | None = None
) -> str:
    fragment = f"tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0&tgWebAppPlatform=tdesktop"
    if theme is not None:
        fragment += "&tgWebAppThemeParams=" + quote(json.dumps(theme), safe="")
    return f"{server.url}/?tab={tab}#{fragment}"


def test_the_page_loads_without_errors_with_one_point_per_stored_trading_day(
    server: DashboardServer, browser: Any
) -> None:
    page = Page(browser).open(server.url + "/?lang=en")
    points = page.page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('chart-spread')).getOption().series[0].data.length"
    )
    assert points == 3845
    assert "2026-06-02" in page.page.inner_text("#day")
    # the percentile is cut, as everywhere (92.69 on that day): never P93
    assert "P92" in page.page.inner_text("#day") and "P93" not in page.page.inner_text("#day")
    for tab in ("industries", "scenarios"):
        page.tab(tab)
    assert page.errors == []


def test_the_ranked_gains_equal_the_reports_json(
    server: DashboardServer, browser: Any, store_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--json", "--source", SOURCE, "--db", str(store_copy), "--as-of", "2026-06-02"]) == 0
    report = json.loads(capsys.readouterr().out)
    page = Page(browser).open(server.url + "/?tab=industries&lang=en", "industries")
    rows = page.page.eval_on_selector_all(
        "#leaders tr[data-code]", "rows => rows.map(r => [r.className, r.dataset.code, Number(r.dataset.gain)])"
    )
    assert [(c, g) for k, c, g in rows if k == "top"] == [(g["code"], round(g["gain"], 2)) for g in report["top"]]
    assert [(c, g) for k, c, g in rows if k == "bottom"] == [(g["code"], round(g["gain"], 2)) for g in report["bottom"]]
    page.page.click("#leaders tr[data-code]")  # tapping an industry shows its gain and rank over time
    page.page.wait_for_selector(f"body[data-industry='{report['top'][0]['code']}']")
    assert page.errors == []


def test_the_language_follows_the_telegram_user_then_their_settings(
    server: DashboardServer, browser: Any, services: Services
) -> None:
    zh_user = signed_init_data(TOKEN, 7001, FRESH_NOW - timedelta(minutes=1), language_code="zh-hans")
    page = Page(browser, locale="en-US").open(telegram_url(server, zh_user))
    page.page.wait_for_selector("body[data-lang='zh']")
    assert page.page.inner_text("#tabs button[data-tab='spread']") == "分化"
    services.chats.ensure(7002, "private")
    services.chats.update(7002, lang="en")  # /settings said English; Telegram says Chinese
    chose_en = signed_init_data(TOKEN, 7002, FRESH_NOW - timedelta(minutes=1), language_code="zh")
    page = Page(browser, locale="zh-CN").open(telegram_url(server, chose_en))
    page.page.wait_for_selector("body[data-lang='en']")
    assert page.page.inner_text("#tabs button[data-tab='spread']") == "Spread"
    assert page.errors == []


def test_a_settings_change_with_valid_init_data_is_stored_and_a_forged_one_is_not(
    server: DashboardServer, browser: Any, services: Services
) -> None:
    valid = signed_init_data(TOKEN, 7003, FRESH_NOW - timedelta(minutes=1), language_code="en")
    page = Page(browser).open(telegram_url(server, valid, "settings"), "settings")
    page.page.check("#settings input[name='subscribed']")
    page.page.wait_for_selector("body[data-saved='subscribed']")
    page.page.select_option("#settings select[name='threshold']", "95")
    page.page.wait_for_selector("body[data-saved='threshold']")
    stored = services.chats.get(7003)
    assert stored is not None and stored.subscribed and stored.threshold == 95.0
    assert page.errors == []

    at = valid.index("hash=") + len("hash=")
    forged = valid[:at] + ("0" if valid[at] != "0" else "1") + valid[at + 1 :]  # one hex digit of the hash changed
    page = Page(browser)
    page.page.goto(telegram_url(server, forged, "settings"))
    page.page.wait_for_selector("body[data-settings='failed']", timeout=30_000)
    assert "not signed by this bot" in page.page.inner_text("#notice")
    services.chats.ensure(7004, "private")
    assert (
        page.page.evaluate(
            """initData => fetch('api/me', {method: 'POST', headers: {Authorization: 'tma ' + initData,
            'Content-Type': 'application/json'}, body: JSON.stringify({subscribed: true})}).then(r => r.status)""",
            forged,
        )
        == 401
    )
    assert services.chats.get(7003) == stored  # nothing changed


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("width", "height"), [(360, 740), (1280, 800)])
def test_screenshots_of_every_page(server: DashboardServer, browser: Any, lang: str, width: int, height: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    user = signed_init_data(TOKEN, 7010, FRESH_NOW - timedelta(minutes=1), language_code=lang)
    theme = DARK if width == 360 and lang == "en" else None  # Telegram's dark theme on one set
    page = Page(browser, width, height, locale=lang).open(telegram_url(server, user, "spread", theme))
    page.page.wait_for_selector(f"body[data-lang='{lang}']")
    for tab in ("spread", "industries", "scenarios", "settings"):
        if tab != "spread":
            page.tab(tab)
        path = SHOTS / f"{tab}-{lang}-{width}x{height}.png"
        page.page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
    assert page.errors == []
