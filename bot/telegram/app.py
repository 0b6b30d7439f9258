"""The composition root: settings → services → the python-telegram-bot ``Application``.

Nothing happens at import time. ``build_application(services)`` wires everything; ``run(settings)``
starts it (long polling by default, a webhook when ``telegram.mode`` is ``webhook``).

Where a new feature goes (one-line edits):

* a command: a module in :mod:`bot.telegram.handlers` with ``register(application[, services])``, listed in
  :func:`register_handlers`; its menu entry in :data:`bot.telegram.menu.MENU`;
* a scheduled job: :func:`bot.telegram.scheduling.install` (its body a plain function in ``jobs/``);
* shared state: a field of :class:`bot.telegram.bot_data.BotData`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit

import tornado.httpserver
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from bot.telegram import ops_hooks, scheduling, webapp_hooks
from bot.telegram.bot_data import CONTEXT_TYPES, AnyApplication, bot_data_of
from bot.telegram.broadcast_targets import sync_broadcast_with_bot
from bot.telegram.chat_limits import ChatLimits
from bot.telegram.client import bot_for
from bot.telegram.handlers import (
    admin,
    alerts_admin,
    backtest_export,
    basic,
    destinations_admin,
    errors,
    history_chart,
    market,
    membership,
    regime_events,
    status,
    subscription,
)
from bot.telegram.handlers.handler_support import run_handlers_off_loop
from bot.telegram.update_processor import PerChatUpdateProcessor
from jobs.alerting.services import Services
from jobs.config.secrets import install_log_scrubbing
from jobs.config.settings import ConfigError, Settings
from jobs.store.datastore import Store

log = logging.getLogger(__name__)


def register_handlers(application: AnyApplication, services: Services) -> None:
    """Every command group's handlers, in handler group 0: the allow-list gate first, the unknown-command
    and plain-text fallbacks last. A new command group adds its module's ``register`` here."""
    errors.register_gate(application)
    for module in (basic, market, history_chart, subscription, status, admin):
        module.register(application)
    for feature in (backtest_export, alerts_admin, destinations_admin, membership, regime_events):
        feature.register(application, services)
    errors.register_fallbacks(application)


def bot_token(settings: Settings) -> str:
    token = settings.bot_token()
    if not token:
        raise ConfigError(
            f"config error: telegram.token_env: the environment variable {settings.telegram.token_env} "
            "is not set (it must hold the bot token)"
        )
    return token


def webhook_secret(token: str) -> str:
    """A stable secret derived from the token (1-256 chars of [A-Za-z0-9_-]); reveals nothing of it."""
    return hashlib.sha256(b"spreadwatch-webhook:" + token.encode()).hexdigest()


async def set_commands(application: AnyApplication) -> None:
    """Telegram's command menu in Chinese (the default) and English (clients set to English)."""
    public = [c for c in bot_data_of(application).menu if not c.admin]
    try:
        await application.bot.set_my_commands([BotCommand(c.name, c.zh) for c in public])
        await application.bot.set_my_commands([BotCommand(c.name, c.en) for c in public], language_code="en")
    except TelegramError as exc:
        # the menu is a convenience: the commands work without it, so start anyway
        log.warning("setMyCommands failed: %s", exc)


async def post_init(application: AnyApplication) -> None:
    await set_commands(application)
    services = bot_data_of(application).services
    entries = services.settings.telegram.broadcast
    if entries:
        await sync_broadcast_with_bot(application.bot, services.store, entries)


class SpreadwatchApplication(Application[Any, Any, Any, Any, Any, Any]):
    """python-telegram-bot's Application, whose ``stop`` (on SIGTERM or Ctrl-C, after the updater stopped)
    first stops the outbox senders: the JobQueue waits for running jobs, and a drain in the middle of a
    broadcast would otherwise send all of it first (42 s for 1,200 messages)."""

    async def stop(self) -> None:
        scheduling.stop_senders(self)
        await super().stop()


def build_application(services: Services) -> AnyApplication:
    settings = services.settings
    tg = settings.telegram
    limits = ChatLimits(tg.commands_per_minute, tg.command_burst, tg.admins)
    # the same bot (rate limiter, defaults, Bot API address) as run-daily's sender, the tests and bench/
    application = (
        ApplicationBuilder()
        .application_class(SpreadwatchApplication)
        .bot(bot_for(settings, bot_token(settings)))
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(PerChatUpdateProcessor(limits=limits, heavy_at_once=tg.heavy_at_once))
        .post_init(post_init)
        .build()
    )
    bot_data_of(application).services_ = services
    bot_data_of(application).chat_limits = limits
    register_handlers(application, services)
    limits.learn(h for handlers in application.handlers.values() for h in handlers)  # our commands, the heavy ones
    scheduling.install(application)
    ops_hooks.install(application, services)  # the service lock; with ops.listen, metrics and /healthz + /metrics
    webapp_hooks.install(application, services, bot_token(settings))  # webapp: the dashboard and the menu button
    run_handlers_off_loop(application)
    return application


# Telegram's updates are a few kilobytes (a message quoting another, with entities, stays far below this)
WEBHOOK_MAX_BODY = 1 << 20


def cap_webhook_body(limit: int = WEBHOOK_MAX_BODY) -> None:
    """Refuse a webhook POST whose body is over ``limit`` bytes at its headers, before reading it.

    The webhook server is tornado's ``HTTPServer``, which python-telegram-bot builds itself (in
    ``telegram.ext._utils.webhookhandler.WebhookServer``) without a way to pass its ``max_body_size``: it
    would read up to tornado's default of 100 MB of an unauthenticated POST into memory before the secret
    token is checked. ``HTTPServer`` is a tornado ``Configurable``, whose ``configure`` sets defaults for
    every instance created afterwards: a declared ``Content-Length`` over the limit (or a chunked body
    growing past it) is answered ``400`` and the connection closed, without reading the body.
    """
    tornado.httpserver.HTTPServer.configure(None, max_body_size=limit)


BOT_API_FIRST_RETRY_S = 1.0
BOT_API_MAX_RETRY_S = 60.0


async def wait_for_bot_api(settings: Settings, token: str) -> None:
    """Return once the Bot API answers ``getMe``; retry with backoff while it cannot be reached.

    One log line per attempt and no traceback: an outage of the network or of a self-hosted Bot API
    server is an expected state, not a bug. A token the API refuses is a configuration error.
    """

    delay, attempt = BOT_API_FIRST_RETRY_S, 0
    while True:
        attempt += 1
        bot = bot_for(settings, token)
        try:
            await bot.initialize()  # getMe
        except InvalidToken as exc:
            raise ConfigError(
                f"config error: telegram.token_env: the Bot API refused the token in ${settings.telegram.token_env} "
                "(401 Unauthorized): check it with @BotFather"
            ) from exc
        except TelegramError as exc:
            log.warning(
                "Bot API not reachable (attempt %d): %s: %s; retrying in %.0f s",
                attempt,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BOT_API_MAX_RETRY_S)
            continue
        else:
            if attempt > 1:
                log.warning("Bot API reachable after %d attempts: starting", attempt)
            return
        finally:
            await bot.shutdown()


def run(settings: Settings, store: Store | None = None) -> None:
    """Start the bot and block until it is stopped (Ctrl-C / SIGTERM); on ``store`` when one is open already
    (opening it again would check its integrity again: tens of ms on the way to the first update)."""
    # httpx logs every request URL at INFO, and the URL contains the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # every secret the settings lead to (the token first) is scrubbed from every log line
    install_log_scrubbing([bot_token(settings)])
    try:
        asyncio.run(wait_for_bot_api(settings, bot_token(settings)))
    except KeyboardInterrupt:
        return  # stopped while waiting for the Bot API: nothing was started
    services = Services.build(settings, store=store)
    application = build_application(services)
    tg = settings.telegram
    if tg.mode == "webhook":
        assert tg.webhook_url is not None  # enforced by the settings model
        cap_webhook_body()
        application.run_webhook(
            listen=tg.webhook_listen,
            port=tg.webhook_port,
            url_path=urlsplit(tg.webhook_url).path.strip("/"),
            webhook_url=tg.webhook_url,
            # Telegram echoes it in a header, so updates posted by anyone else are refused
            secret_token=webhook_secret(bot_token(settings)),
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
