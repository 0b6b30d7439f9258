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
from typing import Protocol

import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client.exposition import choose_encoder

from bot.ops.metrics import Metrics
from jobs.config.settings import ConfigError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


class HealthCheck(Protocol):
    """What ``/healthz`` asks: the door that runs the service knows what "healthy" means for it
    (:class:`bot.telegram.ops_hooks.Health` for the bot)."""

    async def problems(self) -> list[str]: ...


class _HealthHandler(tornado.web.RequestHandler):
    def initialize(self, health: HealthCheck) -> None:
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
    def __init__(self, host: str, port: int, health: HealthCheck, metrics: Metrics) -> None:
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
        # GET only: a request with a body is no probe's (tornado would buffer up to 100 MB of it)
        server = tornado.httpserver.HTTPServer(self.app, max_body_size=MAX_BODY)
        server.add_sockets(sockets)
        self._server = server
        log.info("ops: /healthz and /metrics on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
