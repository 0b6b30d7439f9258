"""Request decoding: a query string plus a form-encoded, multipart or JSON body become params (JSON-typed
fields parsed, ids/offsets/timeouts as ints, flags as bools, the rest text) and uploaded files."""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import urllib.parse
from typing import Any

from .records import UploadedFile

JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
    }
)
INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "from_chat_id", "message_thread_id"}
)
BOOL_FIELDS = frozenset({"drop_pending_updates", "disable_notification", "show_alert", "protect_content"})


def _parse_params(content_type: str, body: bytes, query: str) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    raw: dict[str, Any] = {k: v for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)}
    files: dict[str, UploadedFile] = {}
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json" and body:
        loaded = json.loads(body)
        if not isinstance(loaded, dict):
            raise ValueError("expected a JSON object")
        return {**raw, **loaded}, files
    if ctype == "application/x-www-form-urlencoded" or (not ctype and body):
        raw.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    elif ctype == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            payload = part.get_payload(decode=True) or b""
            filename = part.get_filename()
            if filename is not None:
                files[name] = UploadedFile(filename, part.get_content_type(), payload)
            else:
                raw[name] = payload.decode("utf-8")
    return {k: _decode(k, v) for k, v in raw.items()}, files


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value
