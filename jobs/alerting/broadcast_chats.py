"""``telegram.broadcast``: channels and groups that get every alert, as subscribers of their own.

Each is a ``chats`` row (subscribed, in ``lang``), so the rules, audit log and outbox treat it like a
chat that sent /subscribe. The ids taken from the config are remembered: one removed from the config
is unsubscribed. A @username needs the Bot API to become an id (``bot.telegram.broadcast_targets``); while one cannot
be resolved, nothing is unsubscribed (a network hiccup must not silence a channel).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store

log = logging.getLogger(__name__)

BROADCAST_META = "telegram:broadcast"


def numeric_ids(entries: Iterable[str]) -> list[int]:
    return [int(e) for e in entries if not e.startswith("@")]


def sync_broadcast(store: Store, chat_ids: Iterable[int], complete: bool = True) -> list[int]:
    """Subscribe ``chat_ids``; when ``complete`` (every entry resolved), unsubscribe the ones no longer
    configured. Returns the ids now subscribed through the config."""
    chats = ChatRepo(store)
    wanted = sorted(set(chat_ids))
    before = [int(i) for i in json.loads(store.get_meta(BROADCAST_META) or "[]")]
    for chat_id in wanted:
        if chats.get(chat_id) is None:
            chats.ensure(chat_id, "channel")
        chats.update(chat_id, subscribed=True, active=True)
    kept = wanted
    if complete:
        for chat_id in set(before) - set(wanted):
            if chats.get(chat_id) is not None:
                chats.update(chat_id, subscribed=False)
                log.info("chat %s removed from telegram.broadcast: unsubscribed", chat_id)
    else:
        kept = sorted(set(wanted) | set(before))
    store.set_meta(BROADCAST_META, json.dumps(kept))
    return kept
