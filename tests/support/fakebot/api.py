"""``FakeBotAPI``: the server tests start. It puts the parts together (state, update queue, call inspection,
fault injection, the method groups), starts and stops the HTTP server, and routes each call: recorded on
arrival, then token check, failure rules, rate limit, and the ``_m_<method>`` that answers it (any method
without one answers ``true``); the call is completed with the answer."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from .bot_methods import BotMethods
from .chat_methods import ChatMethods
from .faults import FaultInjection, _rule_error
from .inspection import CallInspection
from .records import Call, UploadedFile
from .replies import _Dropped, _error, _ok, _Reply
from .send_methods import SendMethods
from .server import _Handler


class FakeBotAPI(CallInspection, FaultInjection, SendMethods, ChatMethods, BotMethods):
    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeBotAPI:
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        # a short poll interval keeps stop() quick (serve_forever checks for shutdown that often)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fakebot", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    # -- request handling (called from server threads) -----------------------------------------
    def handle(self, token: str, method: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> _Reply:
        now = time.monotonic()
        chat_id = params.get("chat_id") if isinstance(params.get("chat_id"), int) else None
        call = Call(method, params, files, now, time.time(), chat_id, token)
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
            rule = self._take_rule(method, chat_id)
        if self.token is not None and token != self.token:
            return self._finish(call, _error(401, "Unauthorized"))
        if rule is not None:
            if rule.kind == "drop":
                self._finish(call, _error(0, "connection dropped"))
                raise _Dropped
            if rule.kind == "delay":
                time.sleep(rule.retry_after)
            else:
                return self._finish(call, _rule_error(rule))
        refusal = self._rate_limit_refusal(method, now)
        if refusal is not None:
            return self._finish(call, refusal)
        if method == "getUpdates":
            return self._finish(call, _ok(self._get_updates(params)))
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._finish(call, _ok(True))
        reply: _Reply = handler(call)
        return self._finish(call, reply)

    def _finish(self, call: Call, reply: _Reply) -> _Reply:
        with self._cond:
            call.status = reply.status
            call.ok = reply.status == 200
            call.answered = True
            call.response = reply.body.get("result") if call.ok else reply.body
            if call.ok and isinstance(call.response, dict) and "message_id" in call.response:
                call.message_id = call.response["message_id"]
            self._cond.notify_all()
        return reply
