"""``/healthz`` and ``/metrics`` over HTTP, served on the bot's own event loop (``ops.listen``).

tornado serves them: python-telegram-bot's ``webhooks`` extra already installs it (its webhook server
is tornado), it runs on the running asyncio loop without a thread of its own, and it is a mature
server, so the bot gains no dependency and no hand-written HTTP parsing. Since the endpoints answer
from the bot's loop, an answer at all proves that loop is turning; a loop blocked by a bug gives no
answer, which a probe's timeout reports as down.

* ``/healthz``: 200 ``ok`` when the application and its updater run, the JobQueue's scheduler runs
  with the daily job on it, and the store answers a query from the file it was opened on; else 503
  with one reason per line. Cheap: attribute checks and one indexed query in a worker thread.
* ``/metrics``: the application's registry (:mod:`bot.ops.metrics`) in the Prometheus text format (or
  OpenMetrics when the scraper asks for it). The store is read in a worker thread, so a slow disk
  never holds up the bot's answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client.exposition import choose_encoder

from bot.ops.metrics import Metrics
from jobs.alerting.services import Services
from jobs.config.settings import ConfigError

log = logging.getLogger(__name__)

STORE_TIMEOUT_S = 5.0  # a health probe must answer within a typical probe timeout (10 s)


class Health:
    """What ``/healthz`` checks; :meth:`problems` lists what is wrong (empty: healthy)."""

    def __init__(self, application: Any, services: Services) -> None:
        self.application = application
        self.services = services
        path = services.store.path
        self._store_file = None if path is None else _file_id(path)

    async def problems(self) -> list[str]:
        from bot.telegram.scheduling import JOB_NAME

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


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, health: Health) -> None:
        self.health = health

    async def get(self) -> None:
        problems = await self.health.problems()
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        if problems:
            self.set_status(503)
            self.finish("\n".join(problems) + "\n")
        else:
            self.finish("ok\n")


class _MetricsHandler(tornado.web.RequestHandler):
    def initialize(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def get(self) -> None:
        encoder, content_type = choose_encoder(self.request.headers.get("Accept", ""))
        body = await asyncio.to_thread(encoder, self.metrics.registry)
        self.set_header("Content-Type", content_type)
        self.finish(body)


def _quiet_access_log(handler: tornado.web.RequestHandler) -> None:
    # a scraper calls every few seconds; tornado would log each 503 as an error
    log.debug("%d %s %.1f ms", handler.get_status(), handler.request.uri, 1000 * handler.request.request_time())


class OpsServer:
    def __init__(self, host: str, port: int, health: Health, metrics: Metrics) -> None:
        self.host, self.port = host, port
        self.app = tornado.web.Application(
            [(r"/healthz", _HealthHandler, {"health": health}), (r"/metrics", _MetricsHandler, {"metrics": metrics})],
            log_function=_quiet_access_log,
        )
        self._server: tornado.httpserver.HTTPServer | None = None

    async def start(self) -> None:
        try:
            sockets = tornado.netutil.bind_sockets(self.port, self.host)
        except OSError as exc:
            msg = f"config error: ops.listen: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            raise ConfigError(msg) from None
        self.port = sockets[0].getsockname()[1]  # the port the system chose for ops.listen's port 0
        server = tornado.httpserver.HTTPServer(self.app)
        server.add_sockets(sockets)
        self._server = server
        log.info("ops: /healthz and /metrics on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
