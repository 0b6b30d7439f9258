"""A webhook receiver on 127.0.0.1 for Apprise's ``json://`` and ``form://`` targets: it answers each
request with the next scripted status (then 200), and records what it received."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

HANG = -1  # hold the request until the test ends: the client's read timeout fires


@dataclass
class Receiver:
    port: int
    script: list[int] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)  # every request, whatever it was answered
    delivered: list[bytes] = field(default_factory=list)  # the requests answered 2xx
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, scheme: str = "json", path: str = "hook", query: str = "") -> str:
        return f"{scheme}://127.0.0.1:{self.port}/{path}{'?' + query if query else ''}"


class _Served(Protocol):
    port: int
    release: threading.Event


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler], state: _Served) -> Iterator[None]:
    """Serve ``handler`` on a free port of 127.0.0.1 (set on ``state.port``) until the block ends; then
    release the requests held (``HANG``) and stop."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def receiver(*script: int) -> Iterator[Receiver]:
    state = Receiver(port=0, script=list(script))
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.bodies.append(body)
                status = state.script.pop(0) if state.script else 200
            if status == HANG:
                state.release.wait(10)
                return
            if 200 <= status < 300:
                with lock:
                    state.delivered.append(body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler, state):
        yield state
