"""Who is asking: Telegram's ``initData``, checked as Telegram documents it.

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app: the data-check-string
(every field but ``hash``, sorted by key, ``key=value`` joined by newlines) must hash, with HMAC-SHA256
keyed by ``HMAC_SHA256(key="WebAppData", msg=bot_token)``, to the ``hash`` field; and ``auth_date`` must be
recent (here: at most 24 hours old). init-data-py does exactly that (constant-time comparison, strict
parsing: no duplicate or empty keys), with the clock passed in, so the tests fix the time.

The page sends the raw ``initData`` in the ``Authorization`` header as ``tma <initData>`` (the form
Telegram's own Mini App documentation uses); nothing else identifies a subscriber.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from init_data_py import errors as init_data_errors
from init_data_py import validate_by_hash

MAX_AGE = timedelta(hours=24)
SCHEME = "tma "


class Unauthorized(Exception):
    """No, forged, altered or expired ``initData``; ``str()`` says which, without echoing any of it."""


@dataclass(frozen=True)
class WebAppUser:
    id: int
    language_code: str | None


def user_from_header(header: str | None, bot_token: str, now: datetime) -> WebAppUser:
    if not header or not header.startswith(SCHEME) or not header[len(SCHEME) :].strip():
        raise Unauthorized("missing Telegram initData (Authorization: tma <initData>)")
    raw = header[len(SCHEME) :].strip()
    try:
        data = validate_by_hash(raw, bot_token, expires_in=MAX_AGE, now=now)
    except init_data_errors.ExpiredError:
        raise Unauthorized("initData has expired (older than 24 hours): reopen the app") from None
    except init_data_errors.InitDataError:
        raise Unauthorized("initData is not signed by this bot") from None
    if data.user is None:
        raise Unauthorized("initData names no user")
    return WebAppUser(int(data.user.id), data.user.language_code)
