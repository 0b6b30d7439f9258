"""The one daily cycle: calendar → refresh → spread rules → regimes → queue. Delivery stays with the caller.

The bot's scheduled ``daily`` job (:mod:`bot.telegram.scheduling`) and ``spreadwatch run-daily``
(:mod:`bot.cli.daily_cli`) both call :func:`run_cycle`; they differ only in how they deliver the queued
rows (the bot's long-lived senders, or one drain before the command exits). The bot's ``regimes``
job calls :func:`follow_with_regimes` alone, to catch up when the regimes lag the spread rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from jobs.alerting.daily import DailyResult, last_evaluated_key, report_job_failure, run_daily
from jobs.alerting.destinations import sync_destinations
from jobs.alerting.notices import notify_admins
from jobs.alerting.regime_alerts import RegimeRun, run_regimes_if_due
from jobs.alerting.services import Services
from jobs.market.calendar_refresh import CalendarRefreshResult, refresh_calendar_if_due

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CycleResult:
    calendar: CalendarRefreshResult | None  # None: the calendar was not due for a refresh
    daily: DailyResult
    regimes: RegimeRun | None  # None: nothing new for the regimes to evaluate (or they failed)
    regimes_error: str | None = None  # the regimes failed: admins were told; the spread rules' work stands


def run_cycle(services: Services, as_of: date | None = None, now: datetime | None = None) -> CycleResult:
    """One evaluation of the day (or of every day missed up to it), its messages queued in the outbox."""
    # configured destinations are subscribers of this evaluation (removed ones no longer are)
    sync_destinations(services.store, services.settings.notify)
    calendar = maintain_calendar(services, services.engine.today(now))
    daily = run_daily(services, as_of, now)
    regimes, error = follow_with_regimes(services)
    return CycleResult(calendar, daily, regimes, error)


def follow_with_regimes(services: Services) -> tuple[RegimeRun | None, str | None]:
    """The regime scenarios of the day the spread rules last evaluated, once (``run_regimes_if_due``).

    A failure is told to the admins once per trading day and returned, not raised: the spread rules'
    transitions are already queued and must go out.
    """
    try:
        return run_regimes_if_due(services, last_evaluated_key(services.engine.source.name)), None
    except Exception as exc:
        log.exception("regime evaluation failed")
        error = f"regime evaluation: {type(exc).__name__}: {exc}"
        raw = services.store.get_meta(last_evaluated_key(services.engine.source.name))
        day = date.fromisoformat(raw) if raw else services.engine.today(services.clock())
        report_job_failure(services, day, error)
        return None, error


def maintain_calendar(services: Services, today: date) -> CalendarRefreshResult | None:
    """The calendar step of the daily run (the bot's ``calendar`` job, ``spreadwatch run-daily``), any source.

    Refreshes when due; a failed refresh, which only happens within DUE_WITHIN_DAYS of the known end,
    tells the admins once per known end (the notice's key is that day). The engine's calendar is
    rebuilt either way, so refreshed or observed days count at once.
    """
    result = refresh_calendar_if_due(services.store, services.settings.data, today)
    if result is not None and not result.ok and result.known_until is not None:
        notify_admins(services, "calendar_refresh_failed", result.known_until, result.message)
    services.engine.reload_calendar()
    return result
