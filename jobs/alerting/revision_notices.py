"""The admins' notice of restated closes: one per revision batch, in each admin's language.

A refresh that replaces stored closes records a revision batch (``jobs.engine.pipeline``); whichever door
refreshed (the daily job, /refresh, ``spreadwatch report``), the engine calls ``announce_revisions``
afterwards. The batch is marked told in the transaction that queues its notices, and the outbox key
carries the batch id, so a batch is told once however many processes refresh; one not told (no admin
configured, a crash in between) is told by the next update that finds it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from jobs.alerting.recipients import DATA_RULE, Render, Split, chat_lang
from jobs.engine.pipeline import Engine
from jobs.model.revisions import RevisionBatch
from jobs.rendering.messages import render, split_message
from jobs.store.chats import ChatRepo
from jobs.store.outbox import Outbox

log = logging.getLogger(__name__)

SHOWN = 12  # revised closes listed one by one; the rest are counted


def revision_kind(batch_id: int) -> str:
    """The outbox kind of a batch's notice: the id makes the key unique per batch."""
    return f"revised:{batch_id}"


def revision_context(engine: Engine, batch: RevisionBatch) -> dict[str, Any]:
    """What ``data_revised`` shows: the restated closes (named as on their day), and the spread of the
    latest day before the revision against the same day's spread now."""
    store, name = engine.store, engine.source.name
    names = store.name_book(name)
    shown = [replace(r, name=r.name or names.name(r.code, r.day)) for r in batch.revisions[:SHOWN]]
    after = store.snapshot(name, batch.latest_day) if batch.latest_day is not None else None
    if after is not None and after.as_of != batch.latest_day:
        after = None  # the day is no longer complete: it has no spread now
    return {
        "batch": batch,
        "shown": shown,
        "more": len(batch.revisions) - len(shown),
        "industries": sorted({r.code for r in batch.revisions}),
        "days": sorted({r.day for r in batch.revisions}),
        "spread_after": after.spread if after else None,
        "percentile_after": after.percentile if after else None,
        "source_label": engine.source.label,
        "timezone": engine.settings.schedule.timezone,
    }


def announce_revisions(
    engine: Engine,
    chats: ChatRepo | None = None,
    *,
    render_fn: Render = render,
    split_fn: Split = split_message,
) -> int:
    """Queue the ``data_revised`` notice of every batch not told yet for every admin; returns rows queued."""
    store, settings = engine.store, engine.settings
    pending = store.revision_batches(engine.source.name, unannounced=True)
    if not pending:
        return 0
    chats = chats or ChatRepo(store)
    admins = settings.telegram.admins
    outbox = Outbox(store)
    queued = 0
    for batch in pending:
        assert batch.id is not None
        ctx = revision_context(engine, batch)
        told = 0
        with store.transaction() as conn:
            if not store.mark_revision_announced(conn, batch.id):
                continue  # another process told it meanwhile
            for admin in admins:
                parts = split_fn(render_fn("data_revised", chat_lang(chats.get(admin), settings), **ctx))
                told += outbox.enqueue(
                    conn,
                    rule_id=DATA_RULE,
                    tier=0,
                    kind=revision_kind(batch.id),
                    day=batch.latest_day or batch.last_day,
                    chat_id=admin,
                    parts=parts,
                )
        queued += told
        if admins:
            log.warning("revised closes of %s from %s: %d admin notice(s) queued", batch.source, batch.first_day, told)
        else:
            log.warning(
                "%d close(s) of %s revised from %s, but no telegram.admins configured to tell",
                len(batch.revisions),
                batch.source,
                batch.first_day,
            )
    return queued
