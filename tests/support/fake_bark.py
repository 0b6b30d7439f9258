"""A self-hosted Bark server on 127.0.0.1 (https://github.com/Finb/bark-server), enough for Apprise's
``bark://HOST:PORT/DEVICE_KEY``: ``POST /push`` with a JSON body naming ``device_key``, answered as
the real server answers: ``{"code": 200, "message": "success", "timestamp": ...}``, 400 for an empty
or unregistered device key, and a scripted status (a 500 as when APNs refuses, or ``HANG``) first."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from support.notify_receiver import HANG, serving

__all__ = ["HANG", "BarkServer", "bark_server"]


@dataclass
class BarkServer:
    port: int
    devices: set[str]
    script: list[int] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)  # every push request's JSON
    delivered: list[dict[str, Any]] = field(default_factory=list)  # those answered code 200
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, device_key: str, query: str = "") -> str:
        return f"bark://127.0.0.1:{self.port}/{device_key}{'?' + query if query else ''}"


def _answer(status: int, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"code": status, "message": message, "timestamp": int(time.time())}).encode()


@contextmanager
def bark_server(*script: int, devices: tuple[str, ...] = ("barkdevicekey0123",)) -> Iterator[BarkServer]:
    state = BarkServer(port=0, devices=set(devices), script=list(script))
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path.split("?")[0] != "/push":
                status, body = _answer(404, "not found")
            else:
                push = json.loads(raw or b"{}")
                with lock:
                    state.pushes.append(push)
                    scripted = state.script.pop(0) if state.script else 200
                key = push.get("device_key", "")
                if scripted == HANG:
                    state.release.wait(10)
                    return
                if scripted != 200:
                    status, body = _answer(scripted, "push failed: APNs answered 500 Internal Server Error")
                elif not key:
                    status, body = _answer(400, "device key is empty")
                elif key not in state.devices:
                    status, body = _answer(
                        400, f"failed to get device token: failed to get [{key}] device token from database"
                    )
                else:
                    status, body = _answer(200, "success")
                    with lock:
                        state.delivered.append(push)
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler, state):
        yield state
