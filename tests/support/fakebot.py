"""A small fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks (stdlib only, no internet).

Start it, point python-telegram-bot at it, push updates, assert on what the bot sent::

    with FakeBotAPI() as fake:                      # random free port, served from a daemon thread
        settings.telegram.base_url = fake.base_url  # "http://127.0.0.1:PORT/bot"
        settings.telegram.base_file_url = fake.base_file_url  # "http://127.0.0.1:PORT/file/bot"
        fake.push(command_update("/spread", chat_id=42))
        (call,) = fake.wait_sent(1, chat_id=42)     # waits for one successful send* to chat 42
        assert "P9" in call.params["text"]

Endpoints: ``POST|GET /bot<TOKEN>/<method>`` with form-encoded, multipart or JSON bodies (or a query
string) and ``GET /file/bot<TOKEN>/<file_path>`` for files the bot uploaded. Methods with behaviour:
getMe, getUpdates (long poll: honours ``offset``, ``limit``, ``timeout``), deleteWebhook (honours
``drop_pending_updates``), setWebhook, getWebhookInfo, sendMessage, sendPhoto, sendDocument,
editMessageText, editMessageReplyMarkup (both answer 400 "message is not modified" when nothing changes
and "message to edit not found" for an unknown message, as Telegram does), answerCallbackQuery,
setMyCommands / getMyCommands / deleteMyCommands (stored per scope and language_code), getFile,
getChatMember (status from ``chat_members[(chat_id, user_id)]``, default "member"), getChat (a
channel from ``usernames["@name"]``, else "chat not found"). Any other
method answers ``{"ok": true, "result": true}``. Every call is recorded.

``FakeBotAPI(token=None, bot_username="spreadwatch_bot", bot_id=777000, port=0)``
    ``token``: when set, other tokens get 401 Unauthorized. ``port``: 0 picks a free one at start; a
    fixed one lets a test point the bot at an API that is not up yet. ``start()`` / ``stop()`` or use as a
    context manager. Attributes: ``port``, ``url``, ``base_url``, ``base_file_url``, ``bot_user`` (dict).

Updates
    ``push(update) -> update_id`` queues an update (its ``update_id`` is assigned, incrementing) and wakes
    a waiting getUpdates; ``pushed_at[update_id]`` is the ``time.monotonic()`` of the push.
    ``pending() -> int`` counts updates not yet confirmed by an ``offset``.
    ``served_at[update_id]`` is when getUpdates first handed the update out.

Recorded calls (``Call``: method, params, files, time (monotonic), wall_time, chat_id, token, status,
ok, response, message_id; a call is recorded on arrival with status 0 and ok False, and completed
when its answer is ready, so waiting for ``ok=True`` sends waits for their answers)
    ``calls(method=None, chat_id=None, ok=None) -> list[Call]`` (a copy, thread-safe);
    ``sent(chat_id=None, method=None) -> list[Call]`` successful sends (send*, editMessage*, copyMessage);
    ``wait_calls(method, n=1, timeout=5.0, chat_id=None, ok=None, since=0) -> list[Call]``;
    ``wait_sent(n=1, timeout=5.0, chat_id=None, method=None, since=0) -> list[Call]``: wait until at
    least ``n`` matching calls exist (``since`` = an index into the full call list, e.g. ``len(fake.calls())``
    taken before an action) and return them; raises ``TimeoutError`` listing what was recorded.
    ``wait_idle(quiet=0.2, timeout=5.0)`` waits until no call arrived for ``quiet`` seconds.
    ``clear()`` forgets recorded calls. ``message(chat_id, message_id) -> dict`` is the current state of
    a message the bot sent (as Telegram would return it), e.g. to build a callback_query on it.
    ``commands(language_code="", scope="default") -> list[dict]`` what setMyCommands stored.
    ``file_bytes(file_id) -> bytes`` content of an uploaded file. Params are decoded: JSON-typed fields
    (reply_markup, commands, scope, entities, …) are parsed, ids/offsets/timeouts become ints, the
    rest stays text. ``Call.files`` maps a field name to ``UploadedFile(filename, content_type, data)``
    (``attach://`` references are resolved to the field that holds the file).

Error injection (``fail(...)`` returns the rule; rules are checked in order, first match wins)
    ``fail(method, kind, times=1, chat_id=None, retry_after=1, description=None, migrate_to=None)``
    ``method``: a method name or "*" (any); ``chat_id``: only calls for this chat; ``times``: how many
    calls it applies to (``None`` = until ``clear_failures()``). ``kind``:
    ``"429"`` Too Many Requests with ``parameters.retry_after``; ``"403"`` "Forbidden: bot was blocked by
    the user"; ``"400"`` "Bad Request: …" (``description`` overrides); ``"migrate"`` 400 with
    ``parameters.migrate_to_chat_id``; ``"500"`` Internal Server Error; ``"drop"`` closes the
    connection without answering; ``"delay"`` waits ``retry_after`` seconds and then answers normally.
    ``clear_failures()`` removes all rules.
    ``rate_limit`` (messages per second over all chats, ``None`` = off): sends beyond it within a sliding
    one-second window get 429 with ``retry_after=rate_limit_retry_after`` (default 1). Refused sends are
    recorded with ok=False and do not count towards the limit.

Update builders (plain dicts shaped like the Bot API's JSON)
    ``user(user_id=1001, first_name="Ann", language_code="en", username=None)``
    ``chat(chat_id, chat_type="private", title=None)``; ids < 0 are groups.
    ``text_update(text, chat_id=1001, user_id=None, chat_type=None, language_code="en", entities=None)``
    ``command_update("/spread 1y", chat_id=…, …, bot_username=None)``: a command message with its
    ``bot_command`` entity; ``bot_username`` adds the ``@botname`` suffix used in groups.
    ``edited_message_update(text, …)`` an ``edited_message`` update (command entities included).
    ``callback_query_update(message, data, user_id=None, language_code="en")``: a button press on a
    message the bot sent (``fake.message(chat_id, message_id)`` or ``call.response``).
    ``my_chat_member_update(chat_id, old_status="member", new_status="kicked", user_id=None, chat_type=None)``
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    }
)
INT_FIELDS = frozenset(
    {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "from_chat_id", "message_thread_id"}
)
BOOL_FIELDS = frozenset({"drop_pending_updates", "disable_notification", "show_alert", "protect_content"})


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


@dataclass
class FailRule:
    method: str
    kind: str
    times: int | None = 1
    chat_id: int | None = None
    retry_after: float = 1
    description: str | None = None
    migrate_to: int | None = None
    used: int = 0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method not in ("*", method):
            return False
        return self.chat_id is None or self.chat_id == chat_id


class _Dropped(Exception):
    """Raised inside the handler to close the connection without an answer."""


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    raw: bytes | None = None
    content_type: str = "application/json"
    extra: dict[str, Any] = field(default_factory=dict)


class FakeBotAPI:
    def __init__(
        self, token: str | None = None, bot_username: str = "spreadwatch_bot", bot_id: int = 777000, port: int = 0
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Spreadwatch",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.rate_limit: float | None = None
        # getChatMember answers: (chat_id, user_id) -> "creator" | "administrator" | "member" | "left" | ...
        self.chat_members: dict[tuple[int, int], str] = {}
        # getChat answers for public @usernames: "@name" -> chat id (a channel)
        self.usernames: dict[str, int] = {}
        self.rate_limit_retry_after = 1
        self.pushed_at: dict[int, float] = {}
        self.served_at: dict[int, float] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._files: dict[str, UploadedFile] = {}
        self._file_paths: dict[str, str] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._rules: list[FailRule] = []
        self._recent_sends: deque[float] = deque()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self.port = port  # 0: a free one, chosen at start()

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

    # -- updates -------------------------------------------------------------------------------
    def push(self, update: dict[str, Any]) -> int:
        with self._cond:
            update_id = next(self._update_ids)
            update = {**update, "update_id": update_id}
            for key in ("message", "edited_message", "channel_post", "my_chat_member"):
                if key in update and "chat" in update[key]:
                    self._chats[update[key]["chat"]["id"]] = update[key]["chat"]
            self._updates.append(update)
            self.pushed_at[update_id] = time.monotonic()
            self._cond.notify_all()
        return update_id

    def pending(self) -> int:
        with self._lock:
            return len(self._updates)

    # -- failures ------------------------------------------------------------------------------
    def fail(
        self,
        method: str,
        kind: str,
        times: int | None = 1,
        chat_id: int | None = None,
        retry_after: float = 1,
        description: str | None = None,
        migrate_to: int | None = None,
    ) -> FailRule:
        if kind not in ("429", "403", "400", "migrate", "500", "drop", "delay"):
            raise ValueError(f"unknown failure kind {kind!r}")
        if kind == "migrate" and migrate_to is None:
            raise ValueError("kind 'migrate' needs migrate_to")
        rule = FailRule(method, kind, times, chat_id, retry_after, description, migrate_to)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_failures(self) -> None:
        with self._lock:
            self._rules.clear()

    # -- inspection ----------------------------------------------------------------------------
    def calls(
        self, method: str | None = None, chat_id: int | None = None, ok: bool | None = None, since: int = 0
    ) -> list[Call]:
        with self._lock:
            return [c for c in self._calls[since:] if _match(c, method, chat_id, ok)]

    def sent(self, chat_id: int | None = None, method: str | None = None, since: int = 0) -> list[Call]:
        with self._lock:
            return [c for c in self._calls[since:] if _is_send(c) and _match(c, method, chat_id, True)]

    def call_count(self) -> int:
        with self._lock:
            return len(self._calls)

    def wait_calls(
        self,
        method: str | None,
        n: int = 1,
        timeout: float = 5.0,
        chat_id: int | None = None,
        ok: bool | None = None,
        since: int = 0,
    ) -> list[Call]:
        return self._wait(lambda c: _match(c, method, chat_id, ok), n, timeout, since)

    def wait_sent(
        self, n: int = 1, timeout: float = 5.0, chat_id: int | None = None, method: str | None = None, since: int = 0
    ) -> list[Call]:
        return self._wait(lambda c: _is_send(c) and _match(c, method, chat_id, True), n, timeout, since)

    def _wait(self, pred: Callable[[Call], bool], n: int, timeout: float, since: int) -> list[Call]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls[since:] if pred(c)]
                if len(found) >= n:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.chat_id, c.status) for c in self._calls[since:] if c.method != "getUpdates"]
                    raise TimeoutError(f"wanted {n} matching call(s), got {len(found)}; recorded: {seen}")
                self._cond.wait(left)

    def wait_idle(self, quiet: float = 0.2, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = max((c.time for c in self._calls if c.method != "getUpdates"), default=0.0)
            if time.monotonic() - last >= quiet:
                return
            time.sleep(quiet / 4)
        raise TimeoutError("the bot kept calling the API")

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        with self._lock:
            return json.loads(json.dumps(self._messages[(chat_id, message_id)]))

    def commands(self, language_code: str = "", scope: str = "default") -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands.get((scope, language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].data

    # -- request handling (called from server threads) -----------------------------------------
    def handle(self, token: str, method: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> _Reply:
        now = time.monotonic()
        chat_id = params.get("chat_id") if isinstance(params.get("chat_id"), int) else None
        call = Call(method, params, files, now, time.time(), chat_id, token)
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
            rule = next((r for r in self._rules if r.matches(method, chat_id)), None)
            if rule is not None:
                rule.used += 1
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
        if method in SEND_METHODS and self.rate_limit is not None:
            with self._lock:
                while self._recent_sends and now - self._recent_sends[0] >= 1.0:
                    self._recent_sends.popleft()
                over = len(self._recent_sends) >= self.rate_limit
                if not over:
                    self._recent_sends.append(now)
            if over:
                retry = self.rate_limit_retry_after
                return self._finish(
                    call,
                    _error(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}),
                )
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
            call.response = reply.body.get("result") if call.ok else reply.body
            if call.ok and isinstance(call.response, dict) and "message_id" in call.response:
                call.message_id = call.response["message_id"]
            self._cond.notify_all()
        return reply

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if isinstance(offset, int) and offset > 0:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
            while not self._updates and not self._closing:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch = list(itertools.islice(self._updates, limit))
            now = time.monotonic()
            for u in batch:
                self.served_at.setdefault(u["update_id"], now)
            return batch

    # -- methods ---------------------------------------------------------------------------------
    def _m_getMe(self, call: Call) -> _Reply:
        return _ok(self.bot_user)

    def _m_deleteWebhook(self, call: Call) -> _Reply:
        if call.params.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return _ok(True)

    def _m_getWebhookInfo(self, call: Call) -> _Reply:
        return _ok({"url": "", "has_custom_certificate": False, "pending_update_count": self.pending()})

    def _m_setMyCommands(self, call: Call) -> _Reply:
        key = _commands_key(call.params)
        with self._lock:
            self._commands[key] = list(call.params.get("commands") or [])
        return _ok(True)

    def _m_getMyCommands(self, call: Call) -> _Reply:
        return _ok(self.commands(*reversed(_commands_key(call.params))))

    def _m_deleteMyCommands(self, call: Call) -> _Reply:
        with self._lock:
            self._commands.pop(_commands_key(call.params), None)
        return _ok(True)

    def _m_answerCallbackQuery(self, call: Call) -> _Reply:
        return _ok(True)

    def _m_getChat(self, call: Call) -> _Reply:
        name = str(call.params.get("chat_id"))
        if name not in self.usernames:
            return _error(400, "Bad Request: chat not found")
        chat = {"id": self.usernames[name], "type": "channel", "title": name[1:], "username": name[1:]}
        return _ok({**chat, "accent_color_id": 0, "max_reaction_count": 11})

    def _m_getChatMember(self, call: Call) -> _Reply:
        user_id = call.params.get("user_id")
        if call.chat_id is None or not isinstance(user_id, int):
            return _error(400, "Bad Request: chat not found")
        status = self.chat_members.get((call.chat_id, user_id), "member")
        return _ok(chat_member(user_id, status))

    def _m_sendMessage(self, call: Call) -> _Reply:
        if call.chat_id is None:
            return _error(400, "Bad Request: chat not found")
        text = call.params.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(_visible(text, call.params.get("parse_mode"))) > 4096:
            return _error(400, "Bad Request: message is too long")
        if call.params.get("parse_mode") == "HTML" and not _balanced_html(text):
            return _error(400, "Bad Request: can't parse entities: unsupported start tag or unmatched end tag")
        msg = self._new_message(call.chat_id)
        msg["text"] = _visible(text, call.params.get("parse_mode"))
        msg["_sent_text"] = text
        return self._store(msg, call)

    def _m_sendPhoto(self, call: Call) -> _Reply:
        upload = self._upload(call, "photo")
        if call.chat_id is None or upload is None:
            return _error(400, "Bad Request: there is no photo in the request")
        file_id = self._save_file(upload, "photos/file_{n}.png")
        width, height = png_size(upload.data) or (0, 0)
        msg = self._new_message(call.chat_id)
        msg["photo"] = [
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "width": width,
                "height": height,
                "file_size": len(upload.data),
            }
        ]
        caption = call.params.get("caption")
        if caption:
            msg["caption"] = _visible(caption, call.params.get("parse_mode"))
        return self._store(msg, call)

    def _m_sendDocument(self, call: Call) -> _Reply:
        upload = self._upload(call, "document")
        if call.chat_id is None or upload is None:
            return _error(400, "Bad Request: there is no document in the request")
        file_id = self._save_file(upload, "documents/file_{n}")
        msg = self._new_message(call.chat_id)
        msg["document"] = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": upload.filename or "file",
            "mime_type": upload.content_type or "application/octet-stream",
            "file_size": len(upload.data),
        }
        caption = call.params.get("caption")
        if caption:
            msg["caption"] = _visible(caption, call.params.get("parse_mode"))
        return self._store(msg, call)

    def _m_getFile(self, call: Call) -> _Reply:
        file_id = str(call.params.get("file_id"))
        with self._lock:
            upload = self._files.get(file_id)
        if upload is None:
            return _error(400, "Bad Request: invalid file_id")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(upload.data),
                "file_path": self._file_paths[file_id],
            }
        )

    def _m_editMessageText(self, call: Call) -> _Reply:
        return self._edit(call, text=True)

    def _m_editMessageReplyMarkup(self, call: Call) -> _Reply:
        return self._edit(call, text=False)

    def _edit(self, call: Call, text: bool) -> _Reply:
        if "inline_message_id" in call.params:
            return _ok(True)
        key = (call.chat_id or 0, int(call.params.get("message_id") or 0))
        with self._lock:
            msg = self._messages.get(key)
            if msg is None:
                return _error(400, "Bad Request: message to edit not found")
            markup = call.params.get("reply_markup")
            new_text = call.params.get("text") if text else msg.get("_sent_text")
            if text and (not isinstance(new_text, str) or not new_text.strip()):
                return _error(400, "Bad Request: message text is empty")
            if new_text == msg.get("_sent_text") and markup == msg.get("reply_markup"):
                return _error(
                    400,
                    "Bad Request: message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message",
                )
            if text:
                assert isinstance(new_text, str)
                msg["_sent_text"] = new_text
                msg["text"] = _visible(new_text, call.params.get("parse_mode"))
            if markup:
                msg["reply_markup"] = markup
            else:
                msg.pop("reply_markup", None)
            msg["edit_date"] = int(time.time())
            return _ok(_public(msg))

    # -- helpers ---------------------------------------------------------------------------------
    def _new_message(self, chat_id: int) -> dict[str, Any]:
        with self._lock:
            chat = self._chats.get(chat_id) or _chat_json(chat_id)
            return {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": self.bot_user,
            }

    def _store(self, msg: dict[str, Any], call: Call) -> _Reply:
        markup = call.params.get("reply_markup")
        if markup:
            msg["reply_markup"] = markup
        with self._lock:
            self._messages[(msg["chat"]["id"], msg["message_id"])] = msg
        return _ok(_public(msg))

    def _upload(self, call: Call, name: str) -> UploadedFile | None:
        if name in call.files:
            return call.files[name]
        value = call.params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            return call.files.get(value[len("attach://") :])
        return None

    def _save_file(self, upload: UploadedFile, path_pattern: str) -> str:
        with self._lock:
            n = next(self._file_ids)
            file_id = f"F{n:06d}"
            self._files[file_id] = upload
            self._file_paths[file_id] = path_pattern.format(n=n)
        return file_id

    def file_by_path(self, path: str) -> UploadedFile | None:
        with self._lock:
            for file_id, p in self._file_paths.items():
                if p == path:
                    return self._files[file_id]
        return None


def _match(c: Call, method: str | None, chat_id: int | None, ok: bool | None) -> bool:
    return (
        (method is None or c.method == method)
        and (chat_id is None or c.chat_id == chat_id)
        and (ok is None or c.ok == ok)
    )


def _is_send(c: Call) -> bool:
    return c.method in SEND_METHODS or c.method in EDIT_METHODS


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {}
    return (
        str(scope.get("type", "default")) if isinstance(scope, dict) else "default",
        params.get("language_code") or "",
    )


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def _chat_json(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "User"}
    return {"id": chat_id, "type": "supergroup" if chat_id < -1_000_000_000_000 else "group", "title": "Group"}


def _ok(result: Any) -> _Reply:
    return _Reply(200, {"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> _Reply:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return _Reply(status, body)


def _rule_error(rule: FailRule) -> _Reply:
    if rule.kind == "429":
        retry = int(rule.retry_after) if float(rule.retry_after).is_integer() else rule.retry_after
        return _error(429, rule.description or f"Too Many Requests: retry after {retry}", {"retry_after": retry})
    if rule.kind == "403":
        return _error(403, rule.description or "Forbidden: bot was blocked by the user")
    if rule.kind == "400":
        return _error(400, rule.description or "Bad Request: chat not found")
    if rule.kind == "migrate":
        return _error(
            400,
            rule.description or "Bad Request: group chat was upgraded to a supergroup chat",
            {"migrate_to_chat_id": rule.migrate_to},
        )
    return _error(500, rule.description or "Internal Server Error")


_TAG_RE = re.compile(r"<[^>]*>")
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler", "span"}
_TAG_NAME_RE = re.compile(r"<\s*(/?)\s*([a-zA-Z-]+)")


def _visible(text: str, parse_mode: Any) -> str:
    """What a user sees: HTML tags removed and entities decoded (no entity list is rebuilt)."""
    if parse_mode != "HTML":
        return text
    return unescape(_TAG_RE.sub("", text))


def _balanced_html(text: str) -> bool:
    """Telegram rejects unknown tags and unmatched ones; a bare '<' in data would be one of those."""
    stack: list[str] = []
    for m in re.finditer(r"<[^>]*>?", text):
        tag = _TAG_NAME_RE.match(m.group(0))
        if tag is None or not m.group(0).endswith(">"):
            return False
        closing, name = tag.group(1) == "/", tag.group(2).lower()
        if name not in _ALLOWED_TAGS:
            return False
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, or None if ``data`` is not a PNG."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


# -- HTTP plumbing ---------------------------------------------------------------------------------
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


# -- update builders -------------------------------------------------------------------------------
_user_message_ids: Iterator[int] = itertools.count(100_000)


def user(
    user_id: int = 1001, first_name: str = "Ann", language_code: str | None = "en", username: str | None = None
) -> dict[str, Any]:
    u: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code:
        u["language_code"] = language_code
    if username:
        u["username"] = username
    return u


def chat(chat_id: int, chat_type: str | None = None, title: str | None = None) -> dict[str, Any]:
    kind = chat_type or ("private" if chat_id > 0 else "group")
    c: dict[str, Any] = {"id": chat_id, "type": kind}
    if kind == "private":
        c["first_name"] = "Ann"
    else:
        c["title"] = title or "Test group"
    return c


def _message(
    text: str,
    chat_id: int,
    user_id: int | None,
    chat_type: str | None,
    language_code: str | None,
    entities: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
    msg: dict[str, Any] = {
        "message_id": next(_user_message_ids),
        "date": int(time.time()),
        "chat": chat(chat_id, chat_type),
        "from": user(uid, language_code=language_code),
        "text": text,
    }
    if entities is None:
        entities = _command_entities(text)
    if entities:
        msg["entities"] = entities
    return msg


def _command_entities(text: str) -> list[dict[str, Any]]:
    m = re.match(r"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
    if m is None:
        return []
    # Telegram counts offsets in UTF-16 code units; a command is ASCII so the lengths agree
    return [{"type": "bot_command", "offset": 0, "length": len(m.group(0))}]


def text_update(
    text: str,
    chat_id: int = 1001,
    user_id: int | None = None,
    chat_type: str | None = None,
    language_code: str | None = "en",
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A plain text message (command entities are added when the text starts with a command)."""
    return {"message": _message(text, chat_id, user_id, chat_type, language_code, entities)}


def command_update(
    command: str,
    chat_id: int = 1001,
    user_id: int | None = None,
    chat_type: str | None = None,
    language_code: str | None = "en",
    bot_username: str | None = None,
) -> dict[str, Any]:
    """``command_update("/history 3y", chat_id=-100, bot_username="spreadwatch_bot")`` → "/history@… 3y"."""
    if not command.startswith("/"):
        command = "/" + command
    if bot_username:
        head, _, rest = command.partition(" ")
        command = f"{head}@{bot_username}" + (f" {rest}" if rest else "")
    return text_update(command, chat_id, user_id, chat_type, language_code)


def edited_message_update(
    text: str,
    chat_id: int = 1001,
    user_id: int | None = None,
    chat_type: str | None = None,
    language_code: str | None = "en",
) -> dict[str, Any]:
    msg = _message(text, chat_id, user_id, chat_type, language_code, None)
    msg["edit_date"] = msg["date"] + 5
    return {"edited_message": msg}


def callback_query_update(
    message: dict[str, Any], data: str, user_id: int | None = None, language_code: str | None = "en"
) -> dict[str, Any]:
    chat_id = int(message["chat"]["id"])
    uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
    return {
        "callback_query": {
            "id": str(next(_user_message_ids)),
            "from": user(uid, language_code=language_code),
            "message": {k: v for k, v in message.items() if not k.startswith("_")},
            "chat_instance": f"ci{chat_id}",
            "data": data,
        }
    }


def chat_member(user_id: int, status: str) -> dict[str, Any]:
    """A ChatMember object as getChatMember returns it (administrators carry their rights)."""
    member: dict[str, Any] = {"user": user(user_id), "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        rights = [
            "can_be_edited",
            "is_anonymous",
            "can_manage_chat",
            "can_delete_messages",
            "can_manage_video_chats",
            "can_restrict_members",
            "can_promote_members",
            "can_change_info",
            "can_invite_users",
            "can_post_stories",
            "can_edit_stories",
            "can_delete_stories",
        ]
        member.update(dict.fromkeys(rights, False), can_manage_chat=True)
    elif status == "kicked":
        member["until_date"] = 0
    elif status == "restricted":
        member.update(is_member=True, can_send_messages=False, until_date=0)
    return member


def my_chat_member_update(
    chat_id: int,
    old_status: str = "member",
    new_status: str = "kicked",
    user_id: int | None = None,
    chat_type: str | None = None,
    bot: dict[str, Any] | None = None,
) -> dict[str, Any]:
    uid = user_id if user_id is not None else (chat_id if chat_id > 0 else 1001)
    bot_user = bot or {"id": 777000, "is_bot": True, "first_name": "Spreadwatch", "username": "spreadwatch_bot"}

    def member(status: str) -> dict[str, Any]:
        m: dict[str, Any] = {"user": bot_user, "status": status}
        if status == "kicked":
            m["until_date"] = 0
        if status == "restricted":
            m.update(
                is_member=True,
                can_send_messages=False,
                until_date=0,
            )
        return m

    return {
        "my_chat_member": {
            "chat": chat(chat_id, chat_type),
            "from": user(uid),
            "date": int(time.time()),
            "old_chat_member": member(old_status),
            "new_chat_member": member(new_status),
        }
    }
