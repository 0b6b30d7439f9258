"""``spreadwatch run``: the bot, after one start-up summary of where it listens and what it serves."""

from __future__ import annotations

import argparse
from typing import Any

from bot.cli.cli_common import ExitCode, add_common_options, open_store, settings_from_args
from jobs.config.secrets import mask, scrub
from jobs.config.settings import Settings
from jobs.market.sources import make_source
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store

DEFAULT_API = "https://api.telegram.org"


def add_run_command(sub: Any) -> None:
    p = sub.add_parser("run", help="start the Telegram bot (token from $TELEGRAM_BOT_TOKEN or telegram.token_env)")
    add_common_options(p)
    p.set_defaults(func=cmd_run)


def _origin(url: str) -> str:
    """Scheme and host only: a configured URL's path could carry a token, and it says nothing useful."""
    scheme, sep, rest = url.partition("://")
    return mask(f"{scheme}://{rest.split('/', 1)[0]}" if sep else url)


def startup_summary(settings: Settings, store: Store, token: str) -> str:
    tg = settings.telegram
    api = _origin(tg.base_url) if tg.base_url else DEFAULT_API
    if tg.mode == "webhook":
        assert tg.webhook_url is not None  # enforced by the settings model
        listen = f"webhook {mask(tg.webhook_url)} (listening on {tg.webhook_listen}:{tg.webhook_port}; Bot API {api})"
    else:
        listen = f"long polling of the Bot API at {api}"
    source = make_source(settings.data)
    subscribers = len(ChatRepo(store).subscribers())
    latest = store.last_snapshot_date(source.name) or "none yet"
    s = settings.schedule
    lines = [
        "spreadwatch bot starting",
        f"  updates: {listen}",
        f"  store: {store.describe()} ({subscribers} subscriber(s); latest data {latest})",
        f"  source: {settings.data.source} ({source.label})",
        f"  daily job: weekdays at {s.daily_time:%H:%M} {s.timezone}; admins: {len(tg.admins)}",
    ]
    lines += [f"  warning: {w}" for w in settings.ops.exposure_warnings()]
    # belt and braces: whatever a configured URL holds, no secret (the token first) reaches the terminal
    return scrub("\n".join(lines), [token])


def cmd_run(args: argparse.Namespace) -> int:
    # python-telegram-bot and the handlers load only for `run`: every other command starts without them
    from bot.telegram.app import bot_token, run

    settings = settings_from_args(args)
    token = bot_token(settings)
    store = open_store(settings)
    try:
        print(startup_summary(settings, store, token), flush=True)
    except BaseException:
        store.close()
        raise
    run(settings, store)  # the bot goes on with the store the summary read
    return ExitCode.OK
