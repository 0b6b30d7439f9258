"""What the fake records about each request: a ``Call`` (method, decoded params, uploads, timing, answer),
the ``UploadedFile`` it carried, and which methods count as sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEND_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAnimation",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
    }
)
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})


@dataclass(frozen=True)
class UploadedFile:
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    time: float  # time.monotonic() when the request arrived
    wall_time: float
    chat_id: int | None
    token: str
    status: int = 0  # 0 while the request is in flight
    ok: bool = False  # set when the answer is ready
    response: Any = None  # the "result" (or the error body when not ok)
    message_id: int | None = None
    answered: bool = False  # the answer is ready (or the connection was dropped): no longer in flight


def _match(c: Call, method: str | None, chat_id: int | None, ok: bool | None) -> bool:
    return (
        (method is None or c.method == method)
        and (chat_id is None or c.chat_id == chat_id)
        and (ok is None or c.ok == ok)
    )


def _is_send(c: Call) -> bool:
    return c.method in SEND_METHODS or c.method in EDIT_METHODS
