"""The operations side of ``spreadwatch run``: the service lock, metrics, the ops HTTP server.

``install(application, services)`` is called once by the composition root. It chains onto the
application's ``post_init`` / ``post_shutdown`` (python-telegram-bot runs them around the bot in
``run_polling`` and ``run_webhook``), so the lock and the server live exactly as long as the bot:

* always: a shared lock on ``<storage.path>.service-lock`` (:mod:`jobs.store.service_lock`), which
  ``spreadwatch restore`` checks before replacing the store;
* with ``ops.listen``: a :class:`~bot.ops.metrics.Metrics` registry in ``bot_data`` (the outbox sender,
  the daily job and every command report to it) and the ``/healthz`` + ``/metrics`` server.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import CommandHandler

from bot.ops.metrics import METRICS_KEY, Metrics
from jobs.alerting.services import Services
from jobs.store.service_lock import ServiceLock

SERVER_KEY = "ops_server"
Hook = Callable[[Any], Awaitable[None]]


def install(application: Any, services: Services) -> None:
    # the service lock guards an SQLite file against a restore under a running service; on PostgreSQL
    # several instances share the database by design, and restores go through pg_restore
    path = services.store.path
    lock = ServiceLock(path) if path is not None and str(path) != ":memory:" else None
    address = services.settings.ops.address
    metrics: Metrics | None = None
    if address is not None:
        metrics = Metrics()
        metrics.watch_store(services)
        application.bot_data[METRICS_KEY] = metrics
        time_commands(application, metrics)

    async def start(app: Any) -> None:
        if lock is not None:
            await asyncio.to_thread(lock.acquire)
        if metrics is not None and address is not None:
            from bot.ops.ops_server import Health, OpsServer

            server = OpsServer(address[0], address[1], Health(app, services), metrics)
            await server.start()
            app.bot_data[SERVER_KEY] = server

    async def stop(app: Any) -> None:
        server = app.bot_data.pop(SERVER_KEY, None)
        if server is not None:
            await server.stop()
        if lock is not None:
            lock.release()

    application.post_init = _chain(application.post_init, start)
    application.post_shutdown = _chain(stop, application.post_shutdown)


def _chain(first: Hook | None, then: Hook | None) -> Hook:
    async def both(app: Any) -> None:
        if first is not None:
            await first(app)
        if then is not None:
            await then(app)

    return both


def time_commands(application: Any, metrics: Metrics) -> None:
    """Every command handler registered so far reports its duration, labelled with its command."""
    for handlers in application.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                timed = _timed(handler.callback, sorted(handler.commands)[0], metrics)
                handler.callback = timed  # type: ignore[assignment]


def _timed(callback: Callable[..., Awaitable[Any]], name: str, metrics: Metrics) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(callback)
    async def timed(update: Any, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return await callback(update, context)
        finally:
            metrics.command(name, time.perf_counter() - started)

    return timed
