"""Drain the outbox rows of ``notify.destinations`` through Apprise, with the Telegram sender's guarantees.

The protocol is :class:`bot.telegram.delivery.OutboxSender`'s: a row is claimed (a lease), the lease is renewed
right before the send (a row no longer held is skipped, never sent twice by two senders), and the row
is marked sent in its own transaction right after the service answered; a crash in that window sends
the message again once the lease has expired, as for Telegram.

Apprise's ``notify()`` answers only with success or failure; the HTTP status is in what it logs, so
each send captures Apprise's log (:func:`classify`): a 4xx (but 408 and 429) or a URL Apprise cannot
use is permanent and the row fails at once; a 5xx, 408, 429, timeout or connection error is transient
and retried with exponential backoff. The captured log holds the URL and so the secret: it is read,
never logged or stored. A destination failing ``pause_after_failures`` sends in a row is paused (its
rows stay pending) and the admins are told once; a successful ``notify-test`` resumes it.

Sends run one at a time: Apprise's log capture is process-wide, and destinations are paced anyway
(``per_destination_interval_s`` between two messages to one destination).

Bodies: the rows hold Telegram HTML; each destination gets it as plain text or as Markdown
(``format``, :func:`jobs.rendering.messages.to_markdown`), sent with the matching Apprise body format. The first
part of a spread alert carries the spread chart as an attachment (``chart``, :func:`spread_chart_for`)
where the destination's Apprise plugin takes attachments; the chart is drawn only for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jobs.alerting.alert_log import SPREAD_RULE
from jobs.alerting.destinations import DestinationRepo
from jobs.alerting.notices import notify_admins
from jobs.alerting.services import Services
from jobs.config.notify_settings import (
    BodyFormat,
    Destination,
    NotifySettings,
    expand_url,
    quiet_apprise,
    supports_attachments,
)
from jobs.rendering.charts import spread_chart  # matplotlib loads with the first chart
from jobs.rendering.messages import to_markdown, to_plain
from jobs.store.outbox import HeldRowsWatch, Outbox, OutboxRow

log = logging.getLogger(__name__)

_STATUS = re.compile(r"error=(\d{3})\b")
_TRANSIENT_4XX = (408, 425, 429)
_APPRISE_LOCK = threading.Lock()  # LogCapture hooks Apprise's one logger: one capture at a time


@dataclass(frozen=True)
class SendOutcome:
    ok: bool
    permanent: bool
    detail: str  # what the service answered, e.g. "HTTP 503"; never the URL

    def __str__(self) -> str:
        return self.detail


def classify(ok: bool, apprise_log: str) -> SendOutcome:
    """What one Apprise send came to, from its answer and its captured log."""
    if ok:
        return SendOutcome(True, False, "sent")
    m = _STATUS.search(apprise_log)
    if m:
        status = int(m.group(1))
        permanent = 400 <= status < 500 and status not in _TRANSIENT_4XX
        return SendOutcome(False, permanent, f"HTTP {status}")
    lowered = apprise_log.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return SendOutcome(False, False, "timeout")
    if "connection error" in lowered or "socket exception" in lowered:
        return SendOutcome(False, False, "connection error")
    # no status and no network error: not knowing, retry (bounded by max_attempts) rather than drop
    return SendOutcome(False, False, "failed (no detail)")


def body_for(text: str, body_format: BodyFormat) -> str:
    """A stored message (Telegram HTML) as a destination's body."""
    return to_markdown(text) if body_format == "markdown" else to_plain(text)


@dataclass(frozen=True)
class Attachment:
    content: bytes
    name: str
    mimetype: str = "image/png"


def send_once(
    url: str, body: str, body_format: BodyFormat = "text", attachment: Attachment | None = None
) -> SendOutcome:
    """One message to one destination URL (blocking: run it in a thread)."""
    import apprise
    from apprise.attachment.memory import AttachMemory

    quiet_apprise()
    # the app's name is the title services show when a message has none (Bark, DingTalk's Markdown preview)
    asset = apprise.AppriseAsset(app_id="spreadwatch", app_desc="spreadwatch")
    with _APPRISE_LOCK, apprise.LogCapture(level=apprise.logging.DEBUG) as captured:
        notifier = apprise.Apprise(asset=asset)
        if not notifier.add(url):
            return SendOutcome(False, True, "URL not understood")
        attach: Any = None
        if attachment is not None:
            attach = apprise.AppriseAttachment(
                AttachMemory(content=attachment.content, name=attachment.name, mimetype=attachment.mimetype)
            )
        fmt = apprise.NotifyFormat.MARKDOWN if body_format == "markdown" else apprise.NotifyFormat.TEXT
        ok = bool(notifier.notify(body=body, title="", body_format=fmt, attach=attach))
        text = captured.getvalue()
    return classify(ok, text)


SendFn = Callable[[str, str, BodyFormat, Attachment | None], SendOutcome]
ChartFn = Callable[[OutboxRow, str], Attachment | None]  # (row, language) -> the chart for it, if any
OnPause = Callable[[str, str, date], None]  # (destination, last error, the row's day)


@dataclass
class NotifyStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    unmarked: int = 0
    paused: list[str] = field(default_factory=list)  # destinations this drain paused
    left_pending: int = 0
    in_flight: int = 0  # rows under another sender's unexpired lease when the drain ended
    in_flight_until: float | None = None  # Unix time the last of those leases runs out
    stopped: bool = False  # stop() ended the drain early


class NotifySender:
    def __init__(
        self,
        outbox: Outbox,
        notify: NotifySettings,
        *,
        on_pause: OnPause | None = None,
        send_fn: SendFn = send_once,
        chart_fn: ChartFn | None = None,
        lease_s: float = 120.0,
        max_attempts: int = 10,
        backoff_base_s: float = 2.0,
        backoff_max_s: float = 900.0,
        worker_id: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.outbox = outbox
        self.notify = notify
        self.repo = DestinationRepo(outbox.store)
        self.on_pause = on_pause
        self.send_fn = send_fn
        self.chart_fn = chart_fn
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.worker_id = worker_id or f"notify-{os.getpid()}-{id(self):x}"
        self.environ = environ
        self._ready: dict[int, float] = {}  # monotonic time a destination may get its next message
        self._lock = asyncio.Lock()
        self._stopped = False
        self._stop_event: asyncio.Event | None = None  # the running drain's, set by stop()

    @property
    def draining(self) -> bool:
        return self._lock.locked()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop sending (SIGTERM): no row is claimed any more; the send in progress is finished and
        marked, then the drain returns (at once for every later drain)."""
        self._stopped = True
        if self._stop_event is not None:
            self._stop_event.set()

    def _destinations(self) -> tuple[dict[int, Destination], set[int]]:
        """Configured destinations by chat id, and the ids not to send to (paused or no longer configured)."""
        by_name = {d.name: d for d in self.notify.destinations}
        active: dict[int, Destination] = {}
        blocked: set[int] = set()
        for state in self.repo.all():
            if state.name in by_name and not state.paused:
                active[state.chat_id] = by_name[state.name]
            else:
                blocked.add(state.chat_id)
        return active, blocked

    async def drain(self, wait_up_to_s: float = 0.0) -> NotifyStats:
        """Send every due notify row; rows due again within ``wait_up_to_s`` are waited for."""
        async with self._lock:
            stats = NotifyStats()
            self._stop_event = stop_event = asyncio.Event()
            held = HeldRowsWatch(self.outbox, self.worker_id, "notify", wait_up_to_s)
            while True:
                if self._stopped:
                    stats.stopped = True
                    break
                active, blocked = await asyncio.to_thread(self._destinations)
                rows = await asyncio.to_thread(self.outbox.due, 200, None, (), "notify")
                now = time.monotonic()
                row = next(
                    (r for r in rows if r.chat_id in active and self._ready.get(r.chat_id, 0.0) <= now),
                    None,
                )
                if row is not None:
                    claimed = await asyncio.to_thread(self.outbox.claim, row.id, self.worker_id, self.lease_s)
                    if claimed is not None:
                        await self._send(claimed, active[row.chat_id], stats)
                    continue
                next_due = await asyncio.to_thread(self.outbox.next_due_at, "notify", sorted(blocked))
                if next_due is None:
                    break
                waits = [t - now for c, t in self._ready.items() if t > now and c in active]
                delay = max(next_due - self.outbox.clock(), min(waits) if waits else 0.0, 0.0)
                if delay > wait_up_to_s:
                    if not await held.keep_waiting():
                        break
                    delay = 0.5
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_event.wait(), min(max(delay, 0.02), 1.0))
            stats.left_pending = await asyncio.to_thread(self.outbox.left_for_later, self.worker_id, "notify")
            stats.in_flight, stats.in_flight_until = await asyncio.to_thread(
                self.outbox.in_flight_elsewhere, self.worker_id, "notify"
            )
            return stats

    async def _send(self, row: OutboxRow, dest: Destination, stats: NotifyStats) -> None:
        if self._stopped:
            await asyncio.to_thread(self.outbox.release, row.id, self.worker_id)
            return
        attempts = await asyncio.to_thread(self.outbox.renew, row.id, self.worker_id, self.lease_s)
        if attempts is None:
            log.warning("outbox row %s to destination %s: no longer held by this sender, not sent", row.id, dest.name)
            stats.skipped += 1
            return
        try:
            url = expand_url(dest.url, self.environ)
        except KeyError as exc:
            outcome = SendOutcome(False, False, f"environment variable ${exc.args[0]} is not set")
        else:
            chart = await asyncio.to_thread(self._chart, row, dest, url)
            body = body_for(row.text, dest.body_format)
            outcome = await asyncio.to_thread(self.send_fn, url, body, dest.body_format, chart)
        self._ready[row.chat_id] = time.monotonic() + self.notify.per_destination_interval_s
        if outcome.ok:
            # the one window: the service has the message, the row is not marked yet
            if await asyncio.to_thread(self.outbox.mark_sent, row.id, self.worker_id, None):
                stats.sent += 1
            else:
                log.error("outbox row %s to destination %s: sent but no longer held; not marked", row.id, dest.name)
                stats.unmarked += 1
            await asyncio.to_thread(self.repo.record_success, dest.name)
            return
        error = f"{dest.name}: {outcome.detail}"
        if outcome.permanent or attempts >= self.max_attempts:
            log.error("outbox row %s to destination %s refused, not retried: %s", row.id, dest.name, outcome.detail)
            await asyncio.to_thread(self.outbox.give_up, row.id, self.worker_id, "failed", error)
            stats.failed += 1
        else:
            delay = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempts - 1))
            delay *= random.uniform(0.8, 1.2)  # spread the retries of several destinations hit by one outage
            log.warning("outbox row %s to destination %s: %s; retry in %.1f s", row.id, dest.name, outcome, delay)
            await asyncio.to_thread(self.outbox.retry_later, row.id, self.worker_id, delay, error, True)
            stats.retried += 1
        paused_now = await asyncio.to_thread(
            self.repo.record_failure, dest.name, outcome.detail, self.notify.pause_after_failures
        )
        if paused_now:
            log.error("destination %s paused after %d failures in a row", dest.name, self.notify.pause_after_failures)
            stats.paused.append(dest.name)
            if self.on_pause is not None:
                await asyncio.to_thread(self.on_pause, dest.name, outcome.detail, row.day)

    def _chart(self, row: OutboxRow, dest: Destination, url: str) -> Attachment | None:
        """The chart to attach to ``row``: only to a message's first part, only where the service takes
        attachments; a chart that cannot be drawn never holds up the message itself."""
        if self.chart_fn is None or not dest.chart or row.part != 0 or not supports_attachments(url):
            return None
        try:
            return self.chart_fn(row, dest.lang)
        except Exception:
            log.exception("chart for outbox row %s to destination %s: not drawn, sent without it", row.id, dest.name)
            return None


def spread_chart_for(services: Services) -> ChartFn:
    """The chart of a spread alert: the spread over the year up to the alert's day, with its P50/P90
    levels (the ``/history 1y`` chart as of that day), in the destination's language. One drawing per
    (day, language) serves every destination."""
    cache: dict[tuple[date, str], Attachment | None] = {}

    def chart(row: OutboxRow, lang: str) -> Attachment | None:
        if row.rule_id != SPREAD_RULE:
            return None
        key = (row.day, lang)
        if key not in cache:
            import pandas as pd

            source = services.engine.source.name
            series = services.store.spread_series(source, start=services.settings.metric.history_start, end=row.day)
            if series.empty:
                cache[key] = None
            else:
                view_from = (pd.Timestamp(row.day) - pd.DateOffset(years=1)).date()
                png = spread_chart(
                    series, today=row.day, lang=lang, view_from=view_from, synthetic=services.engine.source.synthetic
                )
                if len(cache) >= 8:
                    cache.clear()
                cache[key] = Attachment(png, f"spread-{row.day}.png")
        return cache[key]

    return chart


def notify_sender_for(services: Services) -> NotifySender:
    """The sender of a running service: a paused destination is reported to the admins (once: the
    notice is keyed by the destination's paused day)."""
    settings = services.settings

    def on_pause(name: str, detail: str, day: date) -> None:
        notify_admins(
            services,
            "destination_paused",
            day,
            error=detail,
            destination=name,
            failures=settings.notify.pause_after_failures,
        )

    return NotifySender(Outbox(services.store), settings.notify, on_pause=on_pause, chart_fn=spread_chart_for(services))
