"""The ``spreadwatch`` command line: assembles the parser from the command modules and runs one.

    spreadwatch report [--as-of DATE] [--source SPEC] [--lang zh|en] [--json]
    spreadwatch export [--csv PATH] [--no-refresh]
    spreadwatch backfill [--source SPEC]
    spreadwatch check-config [--config PATH]
    spreadwatch run-daily [--as-of DATE] [--wait S]
    spreadwatch run [--config PATH]
    spreadwatch backtest [--from DATE] [--to DATE] [--csv PATH] [--png PATH] [--json]
    spreadwatch regime [--as-of DATE] [--json] [--no-refresh] [--record]
    spreadwatch calendar-refresh [--config PATH] [--db PATH]
    spreadwatch notify-test [--destination NAME]
    spreadwatch notify-resume NAME

Every failure the operator can fix ends in one line on stderr and an exit code from
``bot.cli.cli_common.ExitCode`` (the README's table), never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from bot.cli.backtest_cli import add_backtest_command
from bot.cli.cli_common import (
    CliError,
    ExitCode,
    calendar_file_problem,
    check_date_arguments,
    exit_code_help,
    file_problem,
    settings_from_args,
)
from bot.cli.config_cli import add_check_config_command
from bot.cli.daily_cli import add_run_daily_command
from bot.cli.data_cli import add_backfill_command, add_calendar_refresh_command
from bot.cli.notify_cli import add_notify_resume_command, add_notify_test_command
from bot.cli.ops_cli import add_ops_commands
from bot.cli.regime_cli import add_regime_command
from bot.cli.report_cli import add_export_command, add_report_command
from bot.cli.run_cli import add_run_command
from jobs.config.secrets import install_log_scrubbing
from jobs.config.settings import ConfigError
from jobs.market.calendar import CalendarFileError
from jobs.store.datastore import open_database
from jobs.store.db import StoreError, db_errors


class Parser(argparse.ArgumentParser):
    """argparse with one line per usage error (what is wrong, and where the options are listed)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.CONFIG, f"{self.prog}: {message} ({self.prog} --help lists the options)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="spreadwatch",
        description="A-share industry differentiation alerts",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_report_command(sub)
    add_export_command(sub)
    add_backfill_command(sub)
    add_calendar_refresh_command(sub)
    add_run_daily_command(sub)
    add_backtest_command(sub)
    add_regime_command(sub)
    add_run_command(sub)
    add_check_config_command(sub)
    add_notify_test_command(sub)
    add_notify_resume_command(sub)
    add_ops_commands(sub)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser, by name (argparse keeps them in its subparsers action)."""
    return {
        name: sub
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, sub in action.choices.items()
    }


def _named_by(parser: argparse.ArgumentParser, args: argparse.Namespace, filename: str) -> str | None:
    """The option (or configuration key) whose value names ``filename``, the file itself or one beside or
    above it (the store's -wal file, a folder being created)."""

    def names(value: object) -> bool:
        text = str(value).removeprefix("csv:")
        return any(
            filename == c or filename.startswith(c) or c.startswith(filename.rstrip(os.sep) + os.sep)
            for c in {text, os.path.abspath(text)}
        )

    command = subcommands(parser).get(getattr(args, "command", ""))
    for action in command._actions if command is not None else ():
        value = getattr(args, action.dest, None)
        if isinstance(value, str | Path) and names(value):
            return action.option_strings[0] if action.option_strings else str(action.metavar or action.dest)
    try:
        settings = settings_from_args(args)
    except (ConfigError, CalendarFileError, AttributeError):
        return None
    for key, value in (("storage.path", settings.storage.path), ("data.source", settings.data.source)):
        if names(value):
            return key
    return None


def _store_error(args: argparse.Namespace, exc: BaseException) -> StoreError:
    try:
        target = settings_from_args(args).storage.target
    except ConfigError:
        target = Path("(the store)")
    return open_database(target).error(exc)


def main(argv: Sequence[str] | None = None) -> int:
    command = "spreadwatch"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = f"spreadwatch {args.command}"
        return _run(parser, args)
    except KeyboardInterrupt:
        # SIGINT (Ctrl-C): a transaction in flight is rolled back and locks go with the process
        print(f"{command}: interrupted; what was stored before stays stored: run it again to go on", file=sys.stderr)
        return ExitCode.INTERRUPTED


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_scrubbing()  # the secrets the settings lead to never reach a log line (jobs.config.secrets)
    # python-telegram-bot's HTTP client logs request URLs, which contain the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        check_date_arguments(args)
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except CalendarFileError as exc:
        print(calendar_file_problem(exc), file=sys.stderr)
        return ExitCode.CONFIG
    except StoreError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.FILE
    except CliError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except db_errors() as exc:
        # the store went bad after it was opened (disk full, made read-only, damaged under us; the
        # database server went away)
        print(str(_store_error(args, exc)), file=sys.stderr)
        return ExitCode.FILE
    except BrokenPipeError:
        # the reader went away (`spreadwatch report | head`): what it wanted was printed; stop quietly,
        # and point stdout at nothing so that the interpreter's final flush raises no second error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitCode.OK
    except OSError as exc:
        if exc.filename is None:
            raise  # not about a file the operator named: a defect, and its traceback says where
        # a file named on the command line or in the configuration that the system refuses: a name too
        # long, a folder where a file should be, no permission, a full or read-only disk
        print(file_problem(exc, _named_by(parser, args, os.fsdecode(exc.filename))), file=sys.stderr)
        return ExitCode.FILE
