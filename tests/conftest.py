"""Shared fixtures: where the real data lives, a temporary store, fast live-source settings; the garbage
collector's thresholds for one long test process."""

from __future__ import annotations

import gc
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from jobs.settings import Settings, parse_settings
from jobs.store import Store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW_CSV = SHARED_DATA / "sw_l1_daily.csv"
CITIC_CSV = SHARED_DATA / "citic_l1_daily.csv"
REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Collect the young generation every 10,000 allocations instead of every 700.

    One test process holds what every module imported and every module- and session-scoped fixture
    built, and the code under test allocates in bursts (a store's ~115k price rows are read as one
    tuple each). With the interpreter's default thresholds those bursts set off a full collection
    over that whole heap again and again: about a fifth of the suite's time went to the garbage
    collector, nearly half of the daily-replay test's. Collection still runs; only less often."""
    gc.set_threshold(10_000, *gc.get_threshold()[1:])


def pytest_collection_finish(session: pytest.Session) -> None:
    # what exists after collection (imported modules, their constants) lives as long as the process:
    # later full collections need not walk through it
    gc.collect()
    gc.freeze()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """In CI (CI=true) a test skipped for want of ../shared/data fails: the data must be there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("CI") == "true" and "shared data" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"shared data not found at {SHARED_DATA}: CI must have it (tests skip only outside CI)"


@pytest.fixture(autouse=True)
def no_internet() -> Iterator[None]:
    """Tests never reach the internet: a request through ``requests`` (akshare's client) that no test
    intercepted fails as on a machine without network. Local servers (the fake Bot API) stay reachable."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1")
        rsps.add_passthru("http://localhost")
        yield


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
