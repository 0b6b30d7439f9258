"""Telegram Mini App ``initData`` for tests, signed the way Telegram documents it — written out here rather than
taken from the library the service validates with, so the tests check the service against the specification:

    secret_key = HMAC_SHA256(key="WebAppData", msg=bot_token)
    hash = hex(HMAC_SHA256(key=secret_key, msg=data_check_string))

where the data-check-string is every field but ``hash``, sorted by key, as ``key=value`` joined by "\\n".
https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode


def signed_init_data(
    bot_token: str,
    user_id: int,
    auth_date: datetime,
    language_code: str | None = "en",
    **extra: str,
) -> str:
    user: dict[str, Any] = {"id": user_id, "first_name": "Ann", "is_bot": False}
    if language_code:
        user["language_code"] = language_code
    fields = {
        "auth_date": str(int(auth_date.timestamp())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
        **extra,
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
