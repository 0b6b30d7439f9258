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

from bot.cli.backtest_cli import add_backtest_command
from bot.cli.cli_common import CliError, ExitCode, exit_code_help, settings_from_args
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
from jobs.store.datastore import open_database
from jobs.store.db import StoreError, db_errors


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def _store_error(args: argparse.Namespace, exc: BaseException) -> StoreError:
    try:
        target = settings_from_args(args).storage.target
    except ConfigError:
        target = Path("(the store)")
    return open_database(target).error(exc)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_scrubbing()  # the secrets the settings lead to never reach a log line (jobs.config.secrets)
    # python-telegram-bot's HTTP client logs request URLs, which contain the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
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
