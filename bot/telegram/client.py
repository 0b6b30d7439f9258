"""The one place a python-telegram-bot ``ExtBot`` is built: the service (``spreadwatch run``),
``spreadwatch run-daily``, the tests and the broadcast benchmark all get the same bot, with the same
rate limiter, so that what is tested is what runs.

The rate limiter: ``AIORateLimiter`` with Telegram's limits (30 messages/s overall, 20/min per group)
and ``max_retries=0``. With retries, the limiter catches a 429 inside ``send_message``, sleeps out
``retry_after`` there and sends again: the outbox never learns of the flood wait, its other workers keep
sending into it, and the sleeping send holds its row past the lease, so a second sender may take the
row and send it too. With ``max_retries=0`` every 429 reaches the caller: the outbox sender pauses all
its workers and puts the row back; a command's reply that meets one fails like any other error (the
limiter itself keeps replies well below the limits). A per-call override cannot express "no retry"
(the limiter reads ``rate_limit_args or max_retries``, so 0 falls back to the default), hence 0 here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Defaults, ExtBot

from jobs.config.settings import Settings

# Telegram's flood limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this)
OVERALL_PER_S = 30
GROUP_PER_MIN = 20
LIMITER_RETRIES = 0


class _QuietRetryAfter(logging.Filter):
    """The limiter logs every 429 it passes on with a full traceback; the caller handles it and logs
    one line itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Rate limit hit after maximum of")


def make_rate_limiter() -> AIORateLimiter:
    limiter_log = logging.getLogger("telegram.ext.AIORateLimiter")
    if not any(isinstance(f, _QuietRetryAfter) for f in limiter_log.filters):
        limiter_log.addFilter(_QuietRetryAfter())
    return AIORateLimiter(
        overall_max_rate=OVERALL_PER_S,
        overall_time_period=1,
        group_max_rate=GROUP_PER_MIN,
        group_time_period=60,
        max_retries=LIMITER_RETRIES,
    )


def defaults() -> Defaults:
    return Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))


class HomeLoopBot(ExtBot[Any]):
    """An ``ExtBot`` whose requests always run on the loop it was initialized on.

    Its HTTP connection pool and rate limiter belong to that loop; handlers run on loops of their own
    in worker threads (``bot.telegram.handlers.handler_support.off_loop``), and their calls are handed over here.
    """

    __slots__ = ("_home_loop",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._home_loop: asyncio.AbstractEventLoop | None = None

    async def initialize(self) -> None:
        await super().initialize()
        self._home_loop = asyncio.get_running_loop()

    async def shutdown(self) -> None:
        await super().shutdown()
        self._home_loop = None

    async def _do_post(self, endpoint: str, data: Any, **timeouts: Any) -> Any:
        home = self._home_loop
        if home is None or home is asyncio.get_running_loop():
            return await super()._do_post(endpoint, data, **timeouts)
        request = super()._do_post(endpoint, data, **timeouts)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(request, home))


def make_bot(token: str, base_url: str | None = None, base_file_url: str | None = None) -> ExtBot[Any]:
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url
    if base_file_url:
        kwargs["base_file_url"] = base_file_url
    return HomeLoopBot(token, defaults=defaults(), rate_limiter=make_rate_limiter(), **kwargs)


def bot_for(settings: Settings, token: str) -> ExtBot[Any]:
    tg = settings.telegram
    return make_bot(token, tg.base_url, tg.base_file_url)
