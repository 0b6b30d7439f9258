"""Bot API methods that send and edit messages and media: sendMessage (empty, too long and unparsable HTML
refused as Telegram does), sendPhoto, sendDocument, getFile, editMessageText and editMessageReplyMarkup
("message is not modified", "message to edit not found")."""

from __future__ import annotations

import time

from .files import FileStore, png_size
from .records import Call
from .replies import _error, _ok, _Reply
from .sent_messages import SentMessages, _chat_json, _public
from .telegram_html import _balanced_html, _visible


class SendMethods(SentMessages, FileStore):
    def _button_refusal(self, call: Call) -> _Reply | None:
        """Telegram refuses ``web_app`` inline buttons outside private chats (400 BUTTON_TYPE_INVALID)."""
        markup = call.params.get("reply_markup")
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not rows or call.chat_id is None:
            return None
        with self._lock:
            kind = (self._chats.get(call.chat_id) or _chat_json(call.chat_id))["type"]
        if kind != "private" and any(isinstance(b, dict) and "web_app" in b for row in rows for b in row):
            return _error(400, "Bad Request: BUTTON_TYPE_INVALID")
        return None

    def _m_sendMessage(self, call: Call) -> _Reply:
        if call.chat_id is None:
            return _error(400, "Bad Request: chat not found")
        if (refusal := self._button_refusal(call)) is not None:
            return refusal
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
        if (refusal := self._button_refusal(call)) is not None:
            return refusal
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
        if (refusal := self._button_refusal(call)) is not None:
            return refusal
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
