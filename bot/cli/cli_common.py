"""What every ``spreadwatch`` command shares: exit codes, common options, settings, the store, output.

The command modules (``bot/*_cli.py``) import this module and never ``bot.cli.main``, which only
assembles the parser; so no command module depends on another.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from datetime import date, datetime
from enum import IntEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from jobs.alerting.revision_notices import announce_revisions
from jobs.config.settings import ConfigError, Settings, load_settings, parse_settings, resolve_paths
from jobs.engine.pipeline import Engine, UpdateResult
from jobs.engine.report import NoDataReason, explain_no_data
from jobs.market.calendar import CalendarFileError, base_trading_days
from jobs.rendering.messages import render, to_plain
from jobs.store.datastore import Store
from jobs.store.db import is_url
from jobs.store.private_files import write_private


class ExitCode(IntEnum):
    """The exit status of every command (README: "Exit codes" lists the same table)."""

    OK = 0
    STALE = 1
    CONFIG = 2
    PENDING = 3
    FILE = 4
    INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "ok",
    ExitCode.STALE: "no fresh data: the refresh failed (the last good data is printed, marked stale) "
    "or there is nothing to show (the message says why); for backup, restore and migrate-store, not possible now "
    "(a running service or refresh holds the store, the target store is not empty); "
    "for notify-test, a destination did not accept the test message",
    ExitCode.CONFIG: "bad configuration or arguments (the message names the key or the option)",
    ExitCode.PENDING: "the data is fine but messages are still unsent (no bot token, Telegram unreachable, "
    "retries not due yet, stopped by SIGTERM, or held under another sender's lease that has not run out): "
    "the next run sends them",
    ExitCode.FILE: "a file cannot be used: the store's folder cannot be created or written, the database "
    "is read-only or damaged, an output path is missing or a folder; or the PostgreSQL store "
    "(storage.url) cannot be reached or used",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C, SIGINT) before the end: what was stored before stays stored, "
    "run the command again (`run` stops normally on SIGINT and exits 0)",
}


def exit_code_help() -> str:
    return "exit codes:\n" + "\n".join(f"  {int(code)}  {text}" for code, text in EXIT_MEANINGS.items())


class CliError(Exception):
    """A one-line answer for the operator, with the exit code that goes with it."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def local_today(settings: Settings) -> date:
    """Today in ``schedule.timezone``: what the engine and the daily job call today."""
    return datetime.now(ZoneInfo(settings.schedule.timezone)).date()


# the date options of every command, by destination: each is checked once, before any command runs
DATE_OPTIONS = (("as_of", "--as-of"), ("start", "--from"), ("end", "--to"))


def check_date_arguments(args: argparse.Namespace) -> None:
    """Refuse a range that ends before it starts, and an ``--as-of`` after today (nothing is known of it).

    A range outside the stored history is the command's to refuse: it knows the history (``backtest``,
    ``regime --history``: "no stored trading day between ...", exit 2).
    """
    given = {flag: value for dest, flag in DATE_OPTIONS if isinstance(value := getattr(args, dest, None), date)}
    start, end = given.get("--from"), given.get("--to")
    if start is not None and end is not None and start > end:
        raise CliError(f"--from {start} is after --to {end}: give the earlier day first", ExitCode.CONFIG)
    as_of = given.get("--as-of")
    if as_of is None:
        return
    settings = settings_from_args(args)
    today = local_today(settings)
    if as_of > today:
        raise CliError(
            f"--as-of {as_of} is in the future (today is {today} in {settings.schedule.timezone}): "
            "give a day up to today, or leave it out for the latest",
            ExitCode.CONFIG,
        )


def date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date like 2025-02-14, got {text!r}") from None


def output_file(text: str) -> Path:
    """The argparse type of a file a command writes (checked by ``check_output_path``; a folder that is
    missing or unwritable is exit 4). The error sweep (tests/test_cli_sweep.py) finds them by this type."""
    return Path(text)


def input_file(text: str) -> Path:
    """The argparse type of a file a command reads that the operator names (a wrong one is exit 2)."""
    return Path(text)


def add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="PATH", help="YAML settings (default: ./config.yaml if present)")
    p.add_argument("--source", metavar="SPEC", help="override data.source: sample | akshare | csv:PATH")
    p.add_argument("--db", metavar="PATH", help="override storage.path (or storage.url with a postgresql:// URL)")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The config's settings with the command line's overrides; every path absolute (the config's
    relative to its folder, the command line's relative to the current folder)."""
    settings, _ = load_settings(args.config)
    raw = settings.model_dump()
    if getattr(args, "source", None):
        raw["data"]["source"] = args.source
    if getattr(args, "db", None):
        if is_url(args.db):
            raw["storage"]["url"] = args.db
        else:
            raw["storage"]["path"], raw["storage"]["url"] = args.db, None
    if getattr(args, "lang", None):
        raw["lang"] = args.lang
    settings = resolve_paths(parse_settings(raw, "command line"), Path.cwd())
    if settings.csv_path is not None:
        _check_csv_source(settings.csv_path)
    if settings.data.calendar_file is not None:
        # read at start-up, like the rest of the configuration: every command (and the bot, before it
        # connects to Telegram) stops at once on a calendar file it cannot use (CalendarFileError)
        base_trading_days(settings.data.calendar_file)
    return settings


def _check_csv_source(csv: Path) -> None:
    """A ``csv:`` source that can never be a file (a folder, a name too long) is a configuration error.

    A missing file is not: it may come later, and until then every command says there is nothing to show.
    """
    try:
        is_dir = csv.is_dir()
    except OSError as exc:
        raise ConfigError(f"config error: {file_problem(exc, 'data.source')}") from None
    if is_dir:
        raise ConfigError(f"config error: data.source: {csv} is a folder: give the CSV file's path")


def calendar_file_problem(exc: CalendarFileError) -> str:
    """The one line for a ``data.calendar_file`` that cannot be used: what is wrong, and what to do."""
    return (
        f"config error: data.calendar_file: {exc}; list one trading day (YYYY-MM-DD) a line, "
        "or remove the key to use akshare's calendar"
    )


def open_store(settings: Settings) -> Store:
    return Store(settings.storage.target)


def open_engine(settings: Settings) -> Engine:
    return Engine(settings, open_store(settings), announce_revisions=announce_revisions)


def no_data_reason(engine: Engine, update: UpdateResult | None) -> NoDataReason:
    """Why nothing can be shown (no file, no rows, too few industries, too short a history)."""
    error = update.refresh.message if update is not None and not update.refresh.ok else None
    return explain_no_data(engine.store, engine.settings, engine.source.name, error, engine.today())


def no_data_message(engine: Engine, reason: NoDataReason, lang: str) -> str:
    return render("no_data_reason", lang, source_label=engine.source.label, reason=reason)


def print_message(text: str) -> None:
    """A rendered message on the terminal: plain text, not the bot's Telegram HTML."""
    print(to_plain(text))


def check_output_path(path: Path, force: bool = False) -> None:
    """Refuse an output path that cannot be written before any work is done (and before a half file); an
    existing file or a symbolic link only with ``--force`` (as ``backup`` does)."""
    if path.is_dir():
        raise CliError(f"{path} is a folder: give a file name, e.g. {path / 'out'}", ExitCode.FILE)
    if not force and path.is_symlink():
        raise CliError(f"{path} is a symbolic link: pass --force to write through it", ExitCode.CONFIG)
    if not force and path.exists():
        raise CliError(f"{path} exists: pass --force to overwrite it", ExitCode.CONFIG)
    folder = path.parent
    if not folder.is_dir():
        raise CliError(f"the folder {folder} does not exist: create it first, or write elsewhere", ExitCode.FILE)
    if not os.access(folder, os.W_OK):
        raise CliError(f"the folder {folder} is not writable: write elsewhere", ExitCode.FILE)


def write_output(path: Path, data: str | bytes, force: bool = False) -> None:
    """Write a file the operator asked for, owner-only (it holds the store's data); any failure is one line
    naming it."""
    check_output_path(path, force)
    try:
        write_private(path, data if isinstance(data, bytes) else data.encode("utf-8"), overwrite=force)
    except FileExistsError:
        # created (or linked) meanwhile, after the check: still not overwritten without --force
        raise CliError(f"{path} exists: pass --force to overwrite it", ExitCode.CONFIG) from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", ExitCode.FILE) from None


def add_force_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="overwrite an existing output file (or write through a link)")


def warn(message: str) -> None:
    print(message, file=sys.stderr)


def _shown(path: str) -> str:
    """A path as the operator can read it: a name longer than 40 characters is abbreviated in the middle."""
    parts = [part if len(part) <= 40 else f"{part[:16]}...{part[-8:]}" for part in path.split(os.sep)]
    return os.sep.join(parts)


def _name_max(path: str) -> int:
    """The longest name the file system of ``path``'s nearest existing folder allows (255 on most)."""
    folder = Path(path).absolute().parent
    while not os.path.isdir(folder) and folder != folder.parent:
        folder = folder.parent
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255


def file_problem(exc: OSError, named_by: str | None) -> str:
    """One line for a file the command could not use: which file (and the option or key that named it),
    what is wrong with it, and what to do."""
    name = os.fsdecode(exc.filename)
    where = f"{named_by}: " if named_by else ""
    if exc.errno == errno.ENAMETOOLONG:
        longest = max((os.fsencode(part) for part in Path(name).parts), key=len, default=b"")
        limit = _name_max(name)
        size = (
            f"a name of {len(longest)} bytes, the file system allows {limit}"
            if len(longest) > limit
            else f"{len(os.fsencode(name))} bytes in all"
        )
        return f"{where}{_shown(name)}: file name too long ({size}): give a shorter name"
    reason = exc.strerror or type(exc).__name__
    return f"{where}{_shown(name)}: cannot be used ({reason}): check the path and its folder, or give another"
