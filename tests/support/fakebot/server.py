"""The HTTP side: the request handler behind ``FakeBotAPI``'s ThreadingHTTPServer. It routes
``/bot<TOKEN>/<method>`` to ``FakeBotAPI.handle`` and ``/file/bot<TOKEN>/<path>`` to an uploaded file, and
writes the answers (keep-alive, Content-Length, TCP_NODELAY)."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import urllib.parse
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from .params import _parse_params
from .replies import _Dropped, _error, _Reply

if TYPE_CHECKING:
    from .api import FakeBotAPI

_PATH_RE = re.compile(r"^/bot([^/]+)/([A-Za-z]+)/?$")
_FILE_RE = re.compile(r"^/file/bot([^/]+)/(.+)$")


class _Handler(BaseHTTPRequestHandler):
    api: FakeBotAPI
    protocol_version = "HTTP/1.1"  # keep-alive, as the real API; every answer has a Content-Length

    def log_message(self, format: str, *args: Any) -> None:  # the test output stays quiet
        return

    def setup(self) -> None:
        super().setup()
        # without it, Nagle's algorithm and the client's delayed ACK add ~40 ms to every keep-alive answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        body = self._read_body()
        m = _FILE_RE.match(parsed.path)
        if m is not None:
            upload = self.api.file_by_path(urllib.parse.unquote(m.group(2)))
            if upload is None:
                self._send(_error(404, "Not Found"))
            else:
                self._send(
                    _Reply(200, {}, raw=upload.data, content_type=upload.content_type or "application/octet-stream")
                )
            return
        m = _PATH_RE.match(parsed.path)
        if m is None:
            self._send(_error(404, "Not Found: method not found"))
            return
        token, method = m.group(1), m.group(2)
        try:
            params, files = _parse_params(self.headers.get("Content-Type", ""), body, parsed.query)
        except ValueError as exc:
            self._send(_error(400, f"Bad Request: {exc}"))
            return
        try:
            reply = self.api.handle(token, method, params, files)
        except _Dropped:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: _Reply) -> None:
        data = reply.raw if reply.raw is not None else json.dumps(reply.body, ensure_ascii=False).encode()
        try:
            self.send_response(reply.status if reply.status else 500)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
