"""The daily job and the outbox drain on python-telegram-bot's JobQueue (APScheduler underneath).

* ``daily``: every weekday at ``schedule.daily_time`` in ``schedule.timezone`` (``run_daily``'s days
  count 0 = Sunday, so Monday-Friday is 1..5); a weekday that is not a trading day (a holiday in the
  calendar) is skipped inside the callback.
* ``daily-retry``: while the day's data is not there (or the fetch failed), the job runs again every
  ``schedule.retry_every_min`` until ``schedule.cutoff_time``; the run at the cut-off tells admins the
  day is missing (once: the outbox key carries the day).
* ``daily-catchup``: on start-up, when the last evaluated trading day is older than the day whose
  data should already be out, one run shortly after start.
* ``calendar`` (every source): every morning, and once shortly after start, the trading calendar is
  refreshed from the live source when its known days are about to run out (akshare's shipped file
  ends 2026-12-31); new days are used at once, and a failed refresh tells the admins once.
* ``outbox``: every ``DRAIN_EVERY_S`` the outbox is drained, which also resumes a broadcast a crash or
  restart interrupted and sends rows whose backoff has passed.
* ``regimes``: every ``REGIMES_EVERY_S``, the regime scenarios follow the day the spread rules last
  evaluated when they lag it (after a failure, or a restart between the two).
* ``first-fetch``: a new installation fetches its data right after start-up.

The job body is the one daily cycle (:func:`jobs.alerting.cycle.run_cycle`, which ``spreadwatch run-daily``
calls too); it blocks on the network and pandas, so it runs in a worker thread (``asyncio.to_thread``);
the event loop keeps answering commands meanwhile. Only the delivery is the bot's own: its long-lived
senders drain the outbox right after.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.telegram.bot_data import AnyApplication, BotData, Context, bot_data_of
from bot.telegram.delivery import OutboxSender
from jobs.alerting.apprise_delivery import NotifySender, notify_sender_for
from jobs.alerting.cycle import follow_with_regimes, maintain_calendar, run_cycle
from jobs.alerting.daily import DailyResult, last_evaluated_key, report_job_failure
from jobs.alerting.destinations import sync_destinations
from jobs.alerting.services import Services
from jobs.store.outbox import Outbox

log = logging.getLogger(__name__)

JOB_NAME = "daily"
RETRY_NAME = "daily-retry"
CATCHUP_NAME = "daily-catchup"
DRAIN_NAME = "outbox"
CALENDAR_NAME = "calendar"
REGIMES_NAME = "regimes"
FIRST_FETCH_NAME = "first-fetch"
CALENDAR_TIME = time(9, 0)  # local: well before the close, so a new year's holidays are known in time
CALENDAR_FIRST_S = 120.0
DRAIN_EVERY_S = 30.0
DRAIN_FIRST_S = 10.0  # resumes a broadcast a crash or restart interrupted
CATCHUP_DELAY_S = 60.0  # the bot answers commands first; a missed day can wait a minute
REGIMES_EVERY_S = 300.0  # a few minutes after the daily job is soon enough for a daily signal
REGIMES_FIRST_S = 120.0  # after start-up the bot answers first; a catch-up can wait
WEEKDAYS = (1, 2, 3, 4, 5)  # python-telegram-bot's run_daily: 0 = Sunday


def sender_of(application: AnyApplication) -> OutboxSender:
    data = bot_data_of(application)
    if data.outbox_sender is None:
        services = data.services
        sender = OutboxSender(
            application.bot,
            Outbox(services.store),
            services.chats,
            rate=services.settings.telegram.rate,
            settings=services.settings,
        )
        sender.events = data.events
        data.outbox_sender = sender
    return data.outbox_sender


def notify_sender_of(application: AnyApplication) -> NotifySender | None:
    """The sender of notify.destinations' rows; None when none is configured."""
    data = bot_data_of(application)
    if not data.services.settings.notify.destinations:
        return None
    if data.notify_sender is None:
        data.notify_sender = notify_sender_for(data.services)
    return data.notify_sender


def stop_senders(application: AnyApplication) -> None:
    """The bot is stopping (SIGTERM, Ctrl-C): both senders stop claiming rows at once; a running drain
    finishes its requests in flight, marks them and returns, so the JobQueue's wait for running jobs
    is short. Every later drain returns at once; the rest goes out at the next start."""
    sender_of(application).stop()
    notify = notify_sender_of(application)
    if notify is not None:
        notify.stop()


async def drain_all(application: AnyApplication) -> None:
    """Telegram's rows, then the other destinations' (each sender picks only its own rows)."""
    await sender_of(application).drain()
    notify = notify_sender_of(application)
    if notify is not None:
        stats = await notify.drain()
        if stats.sent or stats.failed or stats.paused:
            log.info("destinations: %s", stats)


def catchup_needed(services: Services, now: datetime | None = None) -> bool:
    engine = services.engine
    local = engine.local_now(now or services.clock())
    expected = engine.calendar.expected_data_date(local, services.settings.schedule.daily_time)
    raw = services.store.get_meta(last_evaluated_key(engine.source.name))
    return raw is None or date.fromisoformat(raw) < expected


def install(application: AnyApplication) -> None:
    """Every job of the bot on its JobQueue (the handlers are the composition root's)."""
    jq = application.job_queue
    if jq is None:
        raise RuntimeError("python-telegram-bot was installed without the job-queue extra")
    services = bot_data_of(application).services
    schedule = services.settings.schedule
    tz = ZoneInfo(schedule.timezone)
    # configured destinations become subscribers (removed ones stop being) before any job runs
    sync_destinations(services.store, services.settings.notify)
    jq.run_daily(daily_job, time=schedule.daily_time.replace(tzinfo=tz), days=WEEKDAYS, name=JOB_NAME)
    jq.run_repeating(drain_job, interval=DRAIN_EVERY_S, first=DRAIN_FIRST_S, name=DRAIN_NAME)
    if catchup_needed(services):
        jq.run_once(daily_job, when=CATCHUP_DELAY_S, name=CATCHUP_NAME)
    jq.run_daily(calendar_job, time=CALENDAR_TIME.replace(tzinfo=tz), name=CALENDAR_NAME)
    jq.run_once(calendar_job, when=CALENDAR_FIRST_S, name=CALENDAR_NAME)
    jq.run_repeating(regimes_job, interval=REGIMES_EVERY_S, first=REGIMES_FIRST_S, name=REGIMES_NAME)
    if services.store.last_snapshot_date(services.engine.source.name) is None:
        jq.run_once(first_fetch, 0, name=FIRST_FETCH_NAME)


async def calendar_job(context: Context) -> None:
    services = context.bot_data.services
    today = services.engine.today(services.clock())
    result = await asyncio.to_thread(maintain_calendar, services, today)
    if result is not None:
        log.info("calendar: %s", result.message)


async def daily_job(context: Context) -> None:
    application = context.application
    data: BotData = context.bot_data
    services = data.services
    engine = services.engine
    now = services.clock()
    local = engine.local_now(now)
    job_name = context.job.name if context.job is not None else JOB_NAME
    if job_name == JOB_NAME and not engine.calendar.is_trading_day(local.date()):
        log.info("daily job: %s is not a trading day", local.date())
        return
    if data.daily_lock.locked():
        log.info("daily job already running; %s skipped", job_name)
        return
    async with data.daily_lock:
        # the admin /refresh and the first fetch hold this lock around their own Engine.update: two
        # updates at once would store overlapping batches and the second would be rejected as a failure
        async with data.refresh_lock, data.regimes_lock:
            try:
                cycle = await asyncio.to_thread(run_cycle, services, None, now)
                result = cycle.daily
            except Exception as exc:  # a bug or a broken store: say so instead of going silent
                log.exception("daily job failed")
                result = await asyncio.to_thread(job_failed, services, local, exc)
        try:
            schedule_retry(application, services, result, local)
            await drain_all(application)
            if data.web_server is not None:
                data.web_server.rewarm()
        finally:
            data.last_daily = result  # /status shows it; set once the run is complete
            data.events.daily_job(result.outcome)


def job_failed(services: Services, local: datetime, exc: Exception) -> DailyResult:
    day = services.engine.calendar.expected_data_date(local, services.settings.schedule.daily_time)
    error = f"{type(exc).__name__}: {exc}"
    queued = report_job_failure(services, day, error)
    past_cutoff = local.time() >= services.settings.schedule.cutoff_time
    return DailyResult("job_failed", day, queued=queued, retry=not past_cutoff, message=f"job failed: {error}")


def schedule_retry(application: AnyApplication, services: Services, result: DailyResult, local: datetime) -> None:
    """Run again in retry_every_min, but never past the cut-off (the last try is at the cut-off)."""
    if not result.retry or application.job_queue is None:
        return
    schedule = services.settings.schedule
    cutoff = datetime.combine(local.date(), schedule.cutoff_time, tzinfo=local.tzinfo)
    if local >= cutoff:
        return
    # relative, so that the job's own clock (services.clock) decides, not the scheduler's
    delay = min(timedelta(minutes=schedule.retry_every_min), cutoff - local)
    log.info("daily job: %s; next try at %s", result.message, (local + delay).isoformat(timespec="minutes"))
    application.job_queue.run_once(daily_job, when=delay, name=RETRY_NAME)


async def regimes_job(context: Context) -> None:
    """The regimes of the day the daily job last evaluated, once (see ``follow_with_regimes``)."""
    data = context.bot_data
    if data.regimes_lock.locked():
        return
    async with data.regimes_lock:
        run, _error = await asyncio.to_thread(follow_with_regimes, data.services)
    if run is not None and data.web_server is not None:
        data.web_server.rewarm()
    if run is not None:
        log.info(
            "regimes evaluated for %s: %d transition(s), %d message(s) queued",
            run.report.as_of,
            len(run.transitions),
            run.queued,
        )


async def first_fetch(context: Context) -> None:
    """A new installation has nothing to answer with until the first fetch: do it right after start-up."""
    services = context.bot_data.services
    lock = context.bot_data.refresh_lock
    async with lock:
        if services.store.last_snapshot_date(services.engine.source.name) is not None:
            return
        log.info("the store has no data for %s yet: fetching it now", services.engine.source.name)
        result = await asyncio.to_thread(services.engine.update)
        log.info("first fetch: %s", result)


async def drain_job(context: Context) -> None:
    sender = sender_of(context.application)
    if sender.draining:
        return
    stats = await sender.drain()
    if stats.sent or stats.failed or stats.dead:
        log.info("outbox: %s", stats)
    notify = notify_sender_of(context.application)
    if notify is not None and not notify.draining:
        nstats = await notify.drain()
        if nstats.sent or nstats.failed or nstats.paused:
            log.info("destinations: %s", nstats)
