"""Shared fixtures: where the real data lives, a temporary store, fast live-source settings."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobs.settings import Settings, parse_settings
from jobs.store import Store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW_CSV = SHARED_DATA / "sw_l1_daily.csv"
CITIC_CSV = SHARED_DATA / "citic_l1_daily.csv"
REPO = Path(__file__).resolve().parents[1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """In CI (CI=true) a test skipped for want of ../shared/data fails: the data must be there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") == "true" and "shared data" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"shared data not found at {SHARED_DATA}: CI must have it (tests skip only outside CI)"


@pytest.fixture(autouse=True)
def no_internet() -> Iterator[Any]:
    """Tests never reach the internet: a request through ``requests`` (akshare's client) that no test
    intercepted fails as on a machine without network. Local servers (the fake Bot API) stay reachable.
    A test that takes this fixture as a parameter gets the ``responses.RequestsMock`` to register a
    service's answers on (e.g. DingTalk's API, as Apprise calls it)."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        rsps.add_passthru("http://localhost")
        yield rsps


@pytest.fixture
def sw_csv() -> Path:
    if not SW_CSV.exists():
        pytest.skip("shared data not present")
    return SW_CSV


@pytest.fixture
def citic_csv() -> Path:
    if not CITIC_CSV.exists():
        pytest.skip("shared data not present")
    return CITIC_CSV


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "spreadwatch.db")
    yield s
    s.close()


def live_settings(db: Path, **data: object) -> Settings:
    """akshare settings that fail fast: no backoff, two retries, a recognisable timeout."""
    raw = {
        "data": {"source": "akshare", "fetch_timeout_s": 7.5, "fetch_retries": 2, "backoff_s": 0, **data},
        "storage": {"path": str(db)},
    }
    return parse_settings(raw)


@pytest.fixture
def akshare_settings(tmp_path: Path) -> Settings:
    return live_settings(tmp_path / "live.db")
