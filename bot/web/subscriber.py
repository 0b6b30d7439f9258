"""The Settings page: a subscriber's own settings, read and changed as ``/settings`` does in their private chat.

The subscriber is the Telegram user of a verified ``initData`` (:mod:`bot.web.auth`); their settings are
those of their private chat with the bot, whose id is their user id. The choices are ``/settings``'
(:data:`jobs.store.chats.THRESHOLD_CHOICES`, :data:`~jobs.store.chats.MUTE_CHOICES`), and a change
writes the same fields the buttons write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.web.auth import WebAppUser
from jobs.alerting.services import Services
from jobs.config.languages import LANGS, reader_lang
from jobs.store.chats import MUTE_CHOICES, THRESHOLD_CHOICES

FIELDS = ("subscribed", "lang", "threshold", "mute_days")


class BadChange(ValueError):
    """A change the Settings page cannot make; ``str()`` is the reason the API returns (400)."""


def reader_language(services: Services, user: WebAppUser) -> str:
    stored = services.chats.get(user.id)
    return reader_lang(stored.lang if stored is not None else None, user.language_code, services.settings.lang)


def settings_of(services: Services, user: WebAppUser) -> dict[str, Any]:
    stored = services.chats.get(user.id)
    today = services.engine.today(services.clock())
    subscribed = stored is not None and stored.subscribed and stored.active
    muted_until = stored.muted_until if subscribed and stored is not None and stored.muted_on(today) else None
    return {
        "user_id": user.id,
        "lang": reader_language(services, user),
        "subscribed": subscribed,
        "threshold": stored.threshold if stored is not None else None,
        "default_threshold": services.settings.alerts.enter_percentile,
        "muted_until": muted_until.isoformat() if muted_until else None,
        "choices": {"lang": list(LANGS), "threshold": list(THRESHOLD_CHOICES), "mute_days": [0, *MUTE_CHOICES]},
    }


def parse_change(body: Any) -> dict[str, Any]:
    """Check a change before anything is written: all of it is valid, or nothing is done."""
    if not isinstance(body, dict) or not body:
        raise BadChange(f"expected a JSON object with one or more of {', '.join(FIELDS)}")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise BadChange(f"unknown field {unknown[0]!r} (known: {', '.join(FIELDS)})")
    if "subscribed" in body and not isinstance(body["subscribed"], bool):
        raise BadChange("subscribed: expected true or false")
    if "lang" in body and body["lang"] not in LANGS:
        raise BadChange(f"lang: expected one of {', '.join(LANGS)}")
    if "threshold" in body:
        value = body["threshold"]
        if value is not None and (isinstance(value, bool) or value not in THRESHOLD_CHOICES):
            raise BadChange(
                f"threshold: expected null (the default) or one of {', '.join(map(str, THRESHOLD_CHOICES))}"
            )
    if "mute_days" in body:
        value = body["mute_days"]
        if isinstance(value, bool) or value not in (0, *MUTE_CHOICES):
            raise BadChange(f"mute_days: expected 0 (unmute) or one of {', '.join(map(str, MUTE_CHOICES))}")
    return dict(body)


def change_settings(services: Services, user: WebAppUser, change: dict[str, Any]) -> dict[str, Any]:
    """Apply a change checked by :func:`parse_change` (runs in a worker thread); returns the settings after it."""
    chats = services.chats
    lang_before = reader_language(services, user)
    current = chats.get(user.id)
    chats.ensure(user.id, "private")
    fields: dict[str, Any] = {}
    if "subscribed" in change:
        fields["subscribed"] = change["subscribed"]
        if change["subscribed"]:
            fields["active"] = True
            if current is None or current.lang is None:
                fields["lang"] = lang_before  # as /subscribe: alerts arrive in the language the reader sees
    if "lang" in change:
        fields["lang"] = change["lang"]
    if "threshold" in change:
        fields["threshold"] = None if change["threshold"] is None else float(change["threshold"])
    if "mute_days" in change:
        days = int(change["mute_days"])
        fields["muted_until"] = services.engine.today(services.clock()) + timedelta(days=days) if days else None
    chats.update(user.id, **fields)
    return settings_of(services, user)
