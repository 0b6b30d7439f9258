"""Notices to the configured admins (``telegram.admins``): data problems, job failures, the calendar.

Each notice goes through the outbox under the key (``data``, kind, day, admin), so a notice about one
incident is queued once however often the job retries: the ``day`` is the incident's identity (the
trading day for a missing day, the calendar's known end for calendar notices).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from jobs.alerting.recipients import DATA_RULE, Render, Split, chat_lang
from jobs.alerting.services import Services
from jobs.rendering.messages import render, split_message
from jobs.store.outbox import Outbox

log = logging.getLogger(__name__)

def notify_admins(
    services: Services,
    problem: str,
    day: date,
    error: str | None = None,
    *,
    render_fn: Render = render,
    split_fn: Split = split_message,
    **extra: Any,
) -> int:
    """Queue the ``data_problem`` notice ``problem`` about ``day`` for every admin; returns rows queued."""
    settings, store = services.settings, services.store
    admins = settings.telegram.admins
    if not admins:
        log.warning("%s (%s) but no telegram.admins configured to tell", problem, day)
        return 0
    engine = services.engine
    ctx = {
        "problem": problem,
        "day": day,
        "cutoff": f"{settings.schedule.cutoff_time:%H:%M}",
        "source_label": engine.source.label,
        "last_data_date": store.last_snapshot_date(engine.source.name),
        "known_until": engine.calendar.known_until,
        "incomplete": None,
        "error": error,
        **extra,
    }
    outbox = Outbox(store)
    queued = 0
    with store.transaction() as conn:
        for admin in admins:
            parts = split_fn(render_fn("data_problem", chat_lang(services.chats.get(admin), settings), **ctx))
            queued += outbox.enqueue(conn, rule_id=DATA_RULE, tier=0, kind=problem, day=day, chat_id=admin, parts=parts)
    if queued:
        log.warning("%s (%s): %d admin notice(s) queued", problem, day, queued)
    return queued
