"""Shared fixtures: where the real data lives, a temporary store, fast live-source settings, a throwaway
PostgreSQL server (``pg_cluster``) with a fresh database per test (``pg_url``, ``make_pg_url``); the
garbage collector's thresholds for one long test process."""

from __future__ import annotations

import gc
import itertools
import os
import re
import signal
import threading
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from support.pgcluster import ThrowawayCluster, find_bindir

from jobs.config.settings import Settings, parse_settings
from jobs.store.datastore import Store

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
    """In CI (CI=true) a test skipped for want of ../shared/data, or of PostgreSQL's server programs, fails:
    CI must have both."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not (report.skipped and os.environ.get("CI") == "true"):
        return
    if "shared data" in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"shared data not found at {SHARED_DATA}: CI must have it (tests skip only outside CI)"
    elif PG_MISSING in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"{PG_MISSING_REASON}: CI must have it (.ci/run installs it; tests skip only outside CI)"


PG_FIXTURES = frozenset({"pg_cluster", "pg_url", "make_pg_url"})


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that uses the throwaway PostgreSQL server (directly or through another fixture) is marked
    ``postgres``: ``pytest -m "not postgres"`` runs everything else without PostgreSQL."""
    for item in items:
        if PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


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


@pytest.fixture(autouse=True)
def no_internet_in_subprocesses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same for the processes a test starts (``spreadwatch run-daily``, senders): their HTTP clients
    (requests, httpx) go through a proxy on a closed local port, so a call to the internet (say, the
    calendar refresh from akshare) fails at once on this machine; local servers are reached directly."""
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, dead)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost,::1")
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


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


# -- the throwaway PostgreSQL server -----------------------------------------------------------------------

PG_MISSING = "PostgreSQL not available"
PG_MISSING_REASON = (
    f"{PG_MISSING}: no initdb/pg_ctl/postgres in `pg_config --bindir` or /usr/lib/postgresql/*/bin "
    "(Debian: apt-get install postgresql)"
)


def _sigterm_interrupts() -> Callable[[], None]:
    """Make SIGTERM (a CI job's timeout, ``kill``) interrupt the session like Ctrl-C, so the session's
    teardown stops the server; returns what undoes it. Nothing changes if SIGTERM is already handled."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is interrupt:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    return restore


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[ThrowawayCluster]:
    """One throwaway PostgreSQL server for the whole session (started on first use, in a temporary folder,
    on a free port of 127.0.0.1); stopped and deleted at the session's end, failed or interrupted
    (and by ``atexit`` should that teardown not run). Skips when PostgreSQL is not installed."""
    if find_bindir() is None:
        pytest.skip(PG_MISSING_REASON)
    restore_sigterm = _sigterm_interrupts()
    try:
        with ThrowawayCluster() as cluster:
            yield cluster
    finally:
        restore_sigterm()


_pg_databases = itertools.count(1)


@pytest.fixture
def make_pg_url(
    pg_cluster: ThrowawayCluster, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Callable[[], str]]:
    """Call it for the URL of a new, empty database (``postgresql://spreadwatch@127.0.0.1:PORT/NAME``, no
    password): for a test that needs more than ``pg_url``'s one. ``PGPASSWORD`` holds the password for the
    test's duration. The databases are dropped after the test."""
    monkeypatch.setenv("PGPASSWORD", pg_cluster.password)
    # the caller's libpq settings must not steer the tests' connections (e.g. PGSSLMODE=require)
    for name in ("PGSERVICE", "PGSERVICEFILE", "PGSSLMODE", "PGREQUIRESSL", "PGOPTIONS", "PGCHANNELBINDING"):
        monkeypatch.delenv(name, raising=False)
    slug = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower()).strip("_")
    created: list[str] = []

    def make() -> str:
        name = f"t{next(_pg_databases)}_{slug}"[:63]  # PostgreSQL's limit on identifiers
        url = pg_cluster.create_database(name)
        created.append(name)
        return url

    yield make
    for name in created:
        pg_cluster.drop_database(name)


@pytest.fixture
def pg_url(make_pg_url: Callable[[], str]) -> str:
    """The URL of a new, empty database on the session's server, for this test alone; the password is in
    ``PGPASSWORD`` (never in the URL), which is where libpq and psycopg look for it."""
    return make_pg_url()
