"""The composition root: settings → services → the python-telegram-bot ``Application``.

Nothing happens at import time. ``build_application(services)`` wires everything; ``run(settings)``
starts it (long polling by default, a webhook when ``telegram.mode`` is ``webhook``).

Extension points for features that add commands or jobs (one-line edits):

* ``MENU``: append a ``MenuCommand`` to list a command in Telegram's menu (``setMyCommands``, zh and
  en) and in ``/help``.
* ``register_extra(application, services)``: add a line that calls your module's
  ``register(application, services)`` (handlers, the daily job on ``application.job_queue``, ...).
  It runs after the core commands and before the unknown-command fallback, in handler group 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder

from jobs.alerting.services import Services
from jobs.config.settings import ConfigError, Settings

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@dataclass(frozen=True)
class MenuCommand:
    name: str
    zh: str
    en: str
    admin: bool = False  # listed in /help for admins only, never in Telegram's public menu

    def description(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


# --- extension point: commands shown in Telegram's menu and in /help -----------------------------
MENU: list[MenuCommand] = [
    MenuCommand("spread", "行业分化度、分位与变化", "Differentiation spread, percentile, change"),
    MenuCommand("top5", "涨幅前五行业", "Top five industries by six-month gain"),
    MenuCommand("bottom5", "涨幅后五行业", "Bottom five industries by six-month gain"),
    MenuCommand("industry", "查询单个行业：/industry 名称或代码", "One industry: /industry name or code"),
    MenuCommand("history", "分化度走势图：/history 1y|3y|5y|all", "Spread chart: /history 1y|3y|5y|all"),
    MenuCommand("regime", "收敛情景：宏观、热度估值、景气反转、主题扩散", "Regime scenarios that end extremes"),
    MenuCommand("subscribe", "订阅提醒", "Subscribe to alerts"),
    MenuCommand("unsubscribe", "取消订阅", "Unsubscribe"),
    MenuCommand("settings", "语言、个人阈值、静音", "Language, personal threshold, mute"),
    MenuCommand("status", "数据状态与运行计划", "Data freshness and schedule"),
    MenuCommand("help", "帮助", "Help"),
    MenuCommand("start", "开始", "Start"),
    MenuCommand("refresh", "立即更新数据（管理员）", "Refresh data now (admin)", admin=True),
    MenuCommand("event", "记录或删除政策事件（管理员）", "Record or remove a policy event (admin)", admin=True),
    MenuCommand("alerts", "提醒状态与最近变化（管理员）", "Alert states and last transitions (admin)", admin=True),
    MenuCommand(
        "destinations", "其他提醒目的地及恢复（管理员）", "Alert destinations; resume a paused one (admin)", admin=True
    ),
]


def register_extra(application: AnyApplication, services: Services) -> None:
    """--- extension point: one line per feature that adds handlers or jobs ---

    e.g. ``from bot.telegram.handlers.alerts_admin import register as alerts; alerts(application, services)``
    """
    from bot.telegram.handlers.backtest_export import register as backtest

    backtest(application, services)
    from bot.telegram.scheduling import register as alerting

    alerting(application, services)
    from bot.telegram.handlers.regime_events import register as regimes

    regimes(application, services)


def register_core(application: AnyApplication) -> None:
    from bot.telegram.handlers import admin, basic, errors, history_chart, market, status, subscription

    errors.register_gate(application)
    for module in (basic, market, history_chart, subscription, status, admin):
        module.register(application)


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
    public = [c for c in application.bot_data.get("menu", MENU) if not c.admin]
    try:
        await application.bot.set_my_commands([BotCommand(c.name, c.zh) for c in public])
        await application.bot.set_my_commands([BotCommand(c.name, c.en) for c in public], language_code="en")
    except TelegramError as exc:
        # the menu is a convenience: the commands work without it, so start anyway
        log.warning("setMyCommands failed: %s", exc)


async def post_init(application: AnyApplication) -> None:
    await set_commands(application)
    services = application.bot_data["services"]
    entries = services.settings.telegram.broadcast
    if entries:
        from bot.telegram.broadcast_targets import sync_broadcast_with_bot

        await sync_broadcast_with_bot(application.bot, services.store, entries)


def build_application(services: Services) -> AnyApplication:
    from bot.telegram.client import bot_for
    from bot.telegram.update_processor import PerChatUpdateProcessor

    settings = services.settings
    # the same bot (rate limiter, defaults, Bot API address) as run-daily's sender, the tests and bench/
    application = (
        ApplicationBuilder()
        .bot(bot_for(settings, bot_token(settings)))
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(post_init)
        .build()
    )
    application.bot_data["services"] = services
    application.bot_data["menu"] = list(MENU)

    from bot.telegram.handlers import errors

    register_core(application)
    register_extra(application, services)
    errors.register_fallbacks(application)
    from bot.ops.ops_runtime import install as ops

    ops(application, services)  # the service lock; with ops.listen, metrics and /healthz + /metrics
    from bot.telegram.handlers.handler_support import run_handlers_off_loop

    run_handlers_off_loop(application)
    return application


class RedactToken(logging.Filter):
    """Replaces the bot token wherever it would reach a log line (messages, arguments, tracebacks)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if self.token in text or (record.exc_text and self.token in record.exc_text):
            record.msg, record.args = text.replace(self.token, "[token]"), None
            if record.exc_text:
                record.exc_text = record.exc_text.replace(self.token, "[token]")
        return True


def install_token_redaction(token: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    for handler in root.handlers:
        handler.addFilter(RedactToken(token))


BOT_API_FIRST_RETRY_S = 1.0
BOT_API_MAX_RETRY_S = 60.0


async def wait_for_bot_api(settings: Settings, token: str) -> None:
    """Return once the Bot API answers ``getMe``; retry with backoff while it cannot be reached.

    One log line per attempt and no traceback: an outage of the network or of a self-hosted Bot API
    server is an expected state, not a bug. A token the API refuses is a configuration error.
    """
    from bot.telegram.client import bot_for

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


def run(settings: Settings) -> None:
    """Start the bot and block until it is stopped (Ctrl-C / SIGTERM)."""
    # httpx logs every request URL at INFO, and the URL contains the bot token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    install_token_redaction(bot_token(settings))
    try:
        asyncio.run(wait_for_bot_api(settings, bot_token(settings)))
    except KeyboardInterrupt:
        return  # stopped while waiting for the Bot API: nothing was started
    services = Services.build(settings)
    application = build_application(services)
    tg = settings.telegram
    if tg.mode == "webhook":
        assert tg.webhook_url is not None  # enforced by the settings model
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
