"""The operations side of ``spreadwatch run`` wired into the bot: the service lock, metrics, the ops HTTP
server (:mod:`bot.ops`), and what "healthy" means for the bot (:class:`Health`).

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
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import CommandHandler

from bot.ops.metrics import Metrics
from bot.ops.ops_server import OpsServer
from bot.telegram.bot_data import bot_data_of
from bot.telegram.scheduling import JOB_NAME
from jobs.alerting.services import Services
from jobs.store.service_lock import ServiceLock

log = logging.getLogger(__name__)

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
        bot_data_of(application).metrics = metrics
        limits = bot_data_of(application).chat_limits
        if limits is not None:
            limits.events = metrics
        time_commands(application, metrics)

    async def start(app: Any) -> None:
        if lock is not None:
            await asyncio.to_thread(lock.acquire)
        if metrics is not None and address is not None:
            server = OpsServer(address[0], address[1], Health(app, services), metrics)
            await server.start()
            bot_data_of(app).ops_server = server
            for warning in services.settings.ops.exposure_warnings():
                log.warning("%s", warning)

    async def stop(app: Any) -> None:
        data = bot_data_of(app)
        server, data.ops_server = data.ops_server, None
        if server is not None:
            await server.stop()
        if lock is not None:
            lock.release()

    application.post_init = chain(application.post_init, start)
    application.post_shutdown = chain(stop, application.post_shutdown)


def chain(first: Hook | None, then: Hook | None) -> Hook:
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


STORE_TIMEOUT_S = 5.0  # a health probe must answer within a typical probe timeout (10 s)


class Health:
    """What ``/healthz`` checks; :meth:`problems` lists what is wrong (empty: healthy)."""

    def __init__(self, application: Any, services: Services) -> None:
        self.application = application
        self.services = services
        path = services.store.path
        self._store_file = None if path is None else _file_id(path)

    async def problems(self) -> list[str]:
        app = self.application
        found = []
        if not app.running:
            found.append("bot: the application is not running")
        elif app.updater is not None and not app.updater.running:
            found.append("bot: the updater (polling or webhook) is not running")
        jq = app.job_queue
        if jq is None or not jq.scheduler.running:
            found.append("scheduler: the JobQueue scheduler is not running")
        elif not jq.get_jobs_by_name(JOB_NAME):
            found.append(f"scheduler: the {JOB_NAME!r} job is not scheduled")
        try:
            await asyncio.wait_for(asyncio.to_thread(self._check_store), STORE_TIMEOUT_S)
        except TimeoutError:
            found.append(f"store: no answer within {STORE_TIMEOUT_S:.0f} s")
        except Exception as exc:
            found.append(f"store: {type(exc).__name__}: {exc}")
        return found

    def _check_store(self) -> None:
        path = self.services.store.path
        if path is not None and _file_id(path) != self._store_file:
            # a restore (or a careless mv) put another file in its place: this process still writes to
            # the old one, whose rows nobody will ever read
            raise RuntimeError(f"{path} was replaced or removed since the start; restart the service")
        self.services.store.connect().execute("SELECT COUNT(*) FROM meta").fetchone()


def _file_id(path: os.PathLike[str] | str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
