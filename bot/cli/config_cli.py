"""``spreadwatch check-config``: the settings, the files they name and the store, checked without changing anything."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.cli_common import ExitCode
from bot.cli.config_checks import calendar_summary, check_data, check_store, describe_store, regime_file_lines
from jobs.config.notify_settings import destination_lines
from jobs.config.settings import load_settings


def add_check_config_command(sub: Any) -> None:
    p = sub.add_parser("check-config", help="validate the configuration and the files it names, then exit")
    p.add_argument("--config", metavar="PATH")
    p.set_defaults(func=cmd_check_config)


def cmd_check_config(args: argparse.Namespace) -> int:
    settings, path = load_settings(args.config)
    today = datetime.now(ZoneInfo(settings.schedule.timezone)).date()
    problems = check_data(settings, today) + check_store(settings)
    token = "set" if settings.bot_token() else "NOT set"
    print(f"config: {path or 'built-in defaults'}")
    print(f"source: {settings.data.source}")
    print(f"store: {describe_store(settings)}")
    print(f"bot token in ${settings.telegram.token_env}: {token}")
    print(calendar_summary(settings))
    for line in regime_file_lines(settings):
        print(line)
    for line in destination_lines(settings.notify):
        print(line)
    for warning in settings.ops.exposure_warnings():
        print(f"warning: {warning}", file=sys.stderr)
    for problem in problems:
        print(problem.message, file=sys.stderr)
    if any(p.kind == "config" for p in problems):
        return ExitCode.CONFIG
    if any(p.kind == "file" for p in problems):
        return ExitCode.FILE
    print("config ok")
    return ExitCode.OK
