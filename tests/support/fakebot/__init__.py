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
and "message to edit not found" for an unknown message, as Telegram does; sends and edits carrying a
``web_app`` inline button to a chat that is not private answer 400 "BUTTON_TYPE_INVALID", as Telegram does),
answerCallbackQuery,
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
    ``in_flight(method=None) -> int`` requests that arrived and are not answered yet (``Call.answered``).
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

Layout: ``api`` (``FakeBotAPI``: lifecycle and routing), ``server`` (HTTP handler), ``params`` (request
decoding), ``records`` (``Call``, ``UploadedFile``), ``replies`` (answer envelopes), ``state`` (what the fake
holds), ``update_queue`` (push / getUpdates), ``inspection`` (calls and waits), ``faults`` (``fail``,
``rate_limit``), ``files`` and ``sent_messages`` (what the bot uploaded and sent), ``send_methods``,
``chat_methods``, ``bot_methods`` (the Bot API methods by kind), ``telegram_html`` (HTML parse mode) and
``update_builders`` (updates for tests).
"""

from .api import FakeBotAPI
from .faults import FailRule
from .files import png_size
from .params import BOOL_FIELDS, INT_FIELDS, JSON_FIELDS
from .records import EDIT_METHODS, SEND_METHODS, Call, UploadedFile
from .telegram_html import _balanced_html
from .update_builders import (
    callback_query_update,
    chat,
    chat_member,
    command_update,
    edited_message_update,
    my_chat_member_update,
    text_update,
    user,
)

__all__ = [
    "BOOL_FIELDS",
    "EDIT_METHODS",
    "INT_FIELDS",
    "JSON_FIELDS",
    "SEND_METHODS",
    "Call",
    "FailRule",
    "FakeBotAPI",
    "UploadedFile",
    "_balanced_html",
    "callback_query_update",
    "chat",
    "chat_member",
    "command_update",
    "edited_message_update",
    "my_chat_member_update",
    "png_size",
    "text_update",
    "user",
]
