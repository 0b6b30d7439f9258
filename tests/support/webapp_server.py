"""The dashboard's server (``bot.web.server.WebServer``) on a free port of 127.0.0.1, on an event loop of its own
in a background thread, over a store the test gives (usually a copy of the filled Shenwan store).

    with DashboardServer(services, token) as server:
        urllib.request.urlopen(server.url + "/api/spread")
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bot.web.server import WebServer
from jobs.alerting.services import Services


class DashboardServer:
    def __init__(self, services: Services, bot_token: str, warm: bool = False) -> None:
        self.services = services
        self.bot_token = bot_token
        self.warm = warm
        self.server: WebServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def start(self) -> DashboardServer:
        self._thread = threading.Thread(target=self._run, name="webapp", daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"the dashboard did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.server = WebServer("127.0.0.1", 0, self.services, self.bot_token)
        await self.server.start()
        if self.warm:
            await self.server.warm()
        self._ready.set()
        await self._stop.wait()
        await self.server.stop()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
