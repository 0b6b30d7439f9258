"""What ``check-config`` can check beyond the settings' types: files, dates, the store. Reads only.

Each problem is one line naming the key (or the file) and what to do, like a validation error.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from bot.cli.cli_common import calendar_file_problem
from jobs.config.secrets import mask
from jobs.config.settings import Settings
from jobs.market.calendar import CalendarFileError, TradingCalendar, base_trading_days
from jobs.regimes.file_inputs import InputFileError, describe, load_file_inputs
from jobs.regimes.inputs import fetch_enabled
from jobs.store.datastore import store_error
from jobs.store.db import db_errors
from jobs.store.db_postgres import PgConnection, PostgresDatabase
from jobs.store.db_sqlite import foreign_database
from jobs.store.schema import MIGRATIONS


@dataclass(frozen=True)
class Problem:
    # "config" (the settings are wrong) | "file" (a file on disk cannot be used) | "warning" (the settings
    # work, but part of them can never take effect: said on stderr, the exit code stays 0)
    kind: str
    message: str


@dataclass(frozen=True)
class CsvExtent:
    first: date
    last: date
    days: int
    most_industries: int  # on any one day: what the ranking can use


def _csv_extent(path: Path) -> CsvExtent | None:
    try:
        raw = pd.read_csv(path, usecols=["date", "code"], dtype={"code": str}, encoding="utf-8")
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None  # not readable as the source expects: the fetch says exactly why, here it is only a hint
    raw["date"] = pd.to_datetime(raw["date"], errors="coerce", format="mixed")
    raw = raw.dropna(subset=["date"])
    if raw.empty:
        return None
    per_day = raw.groupby("date")["code"].nunique()
    return CsvExtent(
        first=per_day.index[0].date(),
        last=per_day.index[-1].date(),
        days=len(per_day),
        most_industries=int(per_day.max()),
    )


def _long_enough(extent: CsvExtent, window: str) -> bool:
    """Whether some day of the data has a base day ``window`` before it (see ``spread.base_positions``)."""
    n, unit = int(window[:-1]), window[-1]
    if unit == "D":
        return extent.days > n
    return (pd.Timestamp(extent.first) + pd.DateOffset(months=n)).date() <= extent.last


def _check_csv(settings: Settings, csv: Path, today: date) -> list[Problem]:
    extent = _csv_extent(csv)
    if extent is None:
        return []
    m = settings.metric
    problems: list[Problem] = []
    if extent.most_industries < 2 * m.top_k:
        problems.append(
            Problem(
                "config",
                f"config error: metric.top_k: {m.top_k} needs at least {2 * m.top_k} industries on a day; "
                f"{csv.name} has at most {extent.most_industries}",
            )
        )
    if m.history_start <= today and m.history_start > extent.last:
        problems.append(
            Problem(
                "config",
                f"config error: metric.history_start: {m.history_start} is after the last day of {csv.name} "
                f"({extent.last})",
            )
        )
    if not _long_enough(extent, m.window):
        problems.append(
            Problem(
                "config",
                f"config error: metric.window: {csv.name} runs from {extent.first} to {extent.last}, "
                f"too short for a {m.window} gain",
            )
        )
    return problems


def check_data(settings: Settings, today: date) -> list[Problem]:
    problems: list[Problem] = []
    start = settings.metric.history_start
    if start > today:
        problems.append(
            Problem("config", f"config error: metric.history_start: {start} is in the future (today is {today})")
        )
    csv = settings.csv_path
    if csv is not None:
        try:
            csv.is_file()
        except OSError as exc:  # a name too long for the file system
            problems.append(
                Problem("config", f"config error: data.source: the CSV file {csv} cannot be used ({exc.strerror})")
            )
            csv = None
    if csv is not None:
        if not csv.exists():
            problems.append(Problem("config", f"config error: data.source: the CSV file {csv} does not exist"))
        elif not csv.is_file():
            problems.append(Problem("config", f"config error: data.source: {csv} is not a file"))
        else:
            problems += _check_csv(settings, csv, today)
    try:
        load_file_inputs(settings.regimes.inputs)
    except InputFileError as exc:
        problems.append(Problem("config", f"config error: {exc}"))
    if settings.regimes.boards and not fetch_enabled(settings):
        names = ", ".join(b.name for b in settings.regimes.boards)
        problems.append(
            Problem(
                "warning",
                f"warning: regimes.boards: concept boards ({names}) come from the live source only, and "
                f"regimes.fetch is {settings.regimes.fetch} with data.source {settings.data.source}: theme breadth "
                "stays unknown; set data.source: akshare (or regimes.fetch: always), or remove regimes.boards",
            )
        )
    calendar_file = settings.data.calendar_file
    if calendar_file is not None:
        try:
            base_trading_days(calendar_file)
        except CalendarFileError as exc:
            problems.append(Problem("config", calendar_file_problem(exc)))
    return problems


def regime_file_lines(settings: Settings) -> list[str]:
    """What each configured regime input file holds (its span and holes), for check-config."""
    try:
        return describe(load_file_inputs(settings.regimes.inputs))
    except InputFileError:
        return []  # check_data reported it


def calendar_summary(settings: Settings) -> str:
    """Where the trading calendar ends: check-config prints it (the daily job relies on it)."""
    stored: list[date] = []
    if settings.storage.url:
        stored = _postgres_calendar_days(settings.storage.url)
    elif settings.storage.path.is_file() and settings.storage.path.stat().st_size:
        try:
            with sqlite3.connect(f"file:{settings.storage.path}?mode=ro", uri=True) as conn:
                stored = [date.fromisoformat(r[0]) for r in conn.execute("SELECT date FROM calendar_days")]
        except sqlite3.Error:
            stored = []  # check_store says what is wrong with the file
    try:
        calendar = TradingCalendar.default(stored, calendar_file=settings.data.calendar_file)
    except CalendarFileError:
        return "trading calendar: unreadable (see data.calendar_file above)"
    base = settings.data.calendar_file or "akshare's calendar file"
    end = calendar.known_until or "nowhere (no calendar file)"
    return (
        f"trading calendar known until {end} ({base}, {len(stored)} refreshed day(s)); "
        "after it: weekdays except 1 Jan and 1-7 Oct, unconfirmed"
    )


def describe_store(settings: Settings) -> str:
    url = settings.storage.url
    return f"{mask(url)} (PostgreSQL)" if url else str(settings.storage.path)


def _postgres_calendar_days(url: str) -> list[date]:
    try:
        with _pg_connect(url) as conn:
            if conn.execute("SELECT to_regclass('calendar_days')").fetchone()[0] is None:
                return []
            return [date.fromisoformat(r[0]) for r in conn.execute("SELECT date FROM calendar_days")]
    except db_errors():
        return []  # check_store says what is wrong


def _pg_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, connect_timeout=10, autocommit=True)


def check_postgres(url: str) -> list[Problem]:
    """Can the store be reached and used, without changing it: a connection and its schema version."""
    try:
        with _pg_connect(url) as conn:
            version = PostgresDatabase(url).schema_version(PgConnection(conn))
    except db_errors() as exc:
        return [Problem("file", str(PostgresDatabase(url).error(exc)))]
    if version > len(MIGRATIONS):
        return [
            Problem(
                "file",
                f"the store {mask(url)} has schema version {version}, newer than this program knows "
                f"({len(MIGRATIONS)}); upgrade spreadwatch",
            )
        ]
    return []


def _writable_ancestor(folder: Path) -> tuple[Path, bool]:
    """The nearest existing folder of ``folder`` and whether the store's folder can be made there."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        return probe, False
    # the permission bits are not the whole story (/proc, /sys and other special file systems refuse
    # new files even to root): create a file there and remove it at once
    try:
        fd, name = tempfile.mkstemp(dir=probe, prefix=".spreadwatch-check-")
    except OSError:
        return probe, False
    os.close(fd)
    os.unlink(name)
    return probe, True


def check_store(settings: Settings) -> list[Problem]:
    if settings.storage.url:
        return check_postgres(settings.storage.url)
    path = settings.storage.path
    if str(path) == ":memory:":
        return []
    if path.is_dir():
        return [Problem("file", f"the store {path} is a folder: set storage.path to a file name inside it")]
    if not path.exists():
        where, ok = _writable_ancestor(path.parent)
        if not ok:
            return [
                Problem(
                    "file",
                    f"cannot create the store {path}: {where} is not a writable folder; "
                    "create the folder, or set storage.path to a writable place",
                )
            ]
        return []
    if path.stat().st_size == 0:
        return [
            Problem(
                "file",
                f"the store {path} is an empty file (0 bytes): if it held subscribers, restore it from a backup; "
                "else delete it and a new store is created",
            )
        ]
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return [Problem("file", str(store_error(path, exc)))]
    if row is not None and row[0] != "ok":
        return [Problem("file", str(store_error(path, sqlite3.DatabaseError("database disk image is malformed"))))]
    foreign = foreign_database(path)
    if foreign is not None:
        return [Problem("file", foreign)]
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        return [Problem("file", f"the store {path} is read-only: make the file and its folder writable")]
    return []
