"""The answers a method gives: ``_Reply`` (status, JSON body or raw bytes), the ``_ok`` / ``_error``
envelopes the Bot API uses, and ``_Dropped`` for closing the connection without one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class _Dropped(Exception):
    """Raised inside the handler to close the connection without an answer."""


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    raw: bytes | None = None
    content_type: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)


def _ok(result: Any) -> _Reply:
    return _Reply(200, {"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> _Reply:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return _Reply(status, body)
