"""Prometheus metrics of the running bot, in a registry the application owns (no global state).

Two kinds of values:

* **events**, counted where they happen (the outbox sender, the daily job, command handlers):
  messages sent, failed by reason, retried by reason, flood waits, daily job outcomes, command
  latency. They live in this process and start from zero at each start, as Prometheus expects of
  counters.
* **state that lives in the store** (outbox rows by status, the last successful fetch, the data's
  age in trading days, alert transitions), read at scrape time by :class:`StoreCollector`, so that
  what ``/metrics`` shows is what the database holds, including rows written by ``spreadwatch
  run-daily`` from cron or by the other process.

:class:`Events` is the do-nothing base: a sender or a job without metrics (the CLI, benchmarks)
reports to it and nothing is kept.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from jobs.store.outbox import Outbox

if TYPE_CHECKING:
    from prometheus_client import Metric

    from jobs.alerting.services import Services

log = logging.getLogger(__name__)

# the outcomes jobs.alerting.daily.DailyResult documents; declared up front so that every series exists from the start
DAILY_OUTCOMES = ("evaluated", "up_to_date", "waiting", "missing", "unknown", "fetch_failed", "job_failed")
# a command answers from stored snapshots in milliseconds; /history and /backtest draw charts (seconds)
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Events:
    """What the bot reports as it works; this base keeps nothing."""

    def message_sent(self) -> None:
        return None

    def message_failed(self, reason: str) -> None:
        return None

    def message_retried(self, reason: str) -> None:
        return None

    def flood_wait(self, seconds: float) -> None:
        return None

    def daily_job(self, outcome: str) -> None:
        return None

    def command(self, name: str, seconds: float) -> None:
        return None

    def command_refused(self, told: bool) -> None:
        return None


class Metrics(Events):
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_*: memory, CPU, open files, start time (from /proc)
        self.sent = Counter("spreadwatch_messages_sent", "Outbox messages Telegram accepted", registry=r)
        self.failed = Counter(
            "spreadwatch_messages_failed",
            "Outbox messages given up on, by reason (bad_request, blocked, attempts_exhausted, migrated_repeatedly)",
            ["reason"],
            registry=r,
        )
        self.retried = Counter(
            "spreadwatch_messages_retried",
            "Sends put back for a later attempt, by error (TimedOut, NetworkError, ...; flood waits apart)",
            ["reason"],
            registry=r,
        )
        self.flood_waits = Counter("spreadwatch_flood_waits", "RetryAfter answers from Telegram", registry=r)
        self.flood_wait_seconds = Counter(
            "spreadwatch_flood_wait_seconds", "Seconds all sends were paused by RetryAfter", registry=r
        )
        self.daily_runs = Counter(
            "spreadwatch_daily_job_runs", "Daily job runs in this process, by outcome", ["outcome"], registry=r
        )
        self.daily_last = Gauge(
            "spreadwatch_daily_job_last_outcome",
            "1 for the outcome of the last daily job run in this process, 0 for the others",
            ["outcome"],
            registry=r,
        )
        self.daily_last_time = Gauge(
            "spreadwatch_daily_job_last_run_timestamp_seconds", "When the last daily job run ended", registry=r
        )
        self.commands = Histogram(
            "spreadwatch_command_duration_seconds",
            "Time from a command reaching its handler to the handler's end (answer sent)",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.refused = Counter(
            "spreadwatch_commands_refused",
            "Commands and button presses past their chat's limit: told (the one notice) or ignored",
            ["outcome"],
            registry=r,
        )
        for outcome in ("told", "ignored"):
            self.refused.labels(outcome)
        for outcome in DAILY_OUTCOMES:
            self.daily_runs.labels(outcome)
            self.daily_last.labels(outcome).set(0)

    def watch_store(self, services: Services) -> None:
        self.registry.register(StoreCollector(services))

    # -- Events --------------------------------------------------------------------------------
    def message_sent(self) -> None:
        self.sent.inc()

    def message_failed(self, reason: str) -> None:
        self.failed.labels(reason).inc()

    def message_retried(self, reason: str) -> None:
        self.retried.labels(reason).inc()

    def flood_wait(self, seconds: float) -> None:
        self.flood_waits.inc()
        self.flood_wait_seconds.inc(max(0.0, seconds))

    def daily_job(self, outcome: str) -> None:
        self.daily_runs.labels(outcome).inc()
        for known in {*DAILY_OUTCOMES, outcome}:
            self.daily_last.labels(known).set(1 if known == outcome else 0)
        self.daily_last_time.set_to_current_time()

    def command(self, name: str, seconds: float) -> None:
        self.commands.labels(name).observe(seconds)

    def command_refused(self, told: bool) -> None:
        self.refused.labels("told" if told else "ignored").inc()


NO_EVENTS = Events()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


class StoreCollector(Collector):
    """Reads, at each scrape, what the store holds. Runs in a worker thread (the server sees to it)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def describe(self) -> list[Metric]:
        return []  # values come from the database at scrape time: nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        started = time.monotonic()
        ok = GaugeMetricFamily("spreadwatch_store_readable", "1 when the store answered this scrape's queries")
        try:
            families = list(self._from_store())
        except Exception as exc:  # a scrape must still answer, and say the store did not
            log.warning("metrics: the store did not answer: %s: %s", type(exc).__name__, exc)
            ok.add_metric([], 0)
            yield ok
            return
        yield from families
        ok.add_metric([], 1)
        yield ok
        took = GaugeMetricFamily("spreadwatch_store_scrape_seconds", "Time the store queries of this scrape took")
        took.add_metric([], time.monotonic() - started)
        yield took

    def _from_store(self) -> Iterator[Metric]:
        services = self.services
        store = services.store
        outbox = GaugeMetricFamily("spreadwatch_outbox_rows", "Outbox rows by status", labels=["status"])
        box = Outbox(store)
        for row_status, n in box.counts().items():
            outbox.add_metric([row_status], n)
        yield outbox
        stranded = GaugeMetricFamily(
            "spreadwatch_outbox_expired_leases",
            "Outbox rows left 'sending' whose lease ran out: the sender died (or hung) holding them",
        )
        stranded.add_metric([], box.expired_leases())
        yield stranded

        status = services.engine.status(services.clock())
        fetched = GaugeMetricFamily(
            "spreadwatch_last_successful_fetch_timestamp_seconds",
            "When the last successful fetch of the configured source finished",
        )
        if status.last_fetch is not None:
            fetched.add_metric([], _epoch(status.last_fetch.finished_at))
        yield fetched
        age = GaugeMetricFamily(
            "spreadwatch_data_age_trading_days",
            "Trading days between the last complete day stored and the latest day whose data is due (0 = current)",
        )
        if status.last_data_date is not None:
            start = status.last_data_date + timedelta(days=1)
            age.add_metric([], len(services.engine.calendar.trading_days_between(start, status.expected_date)))
        yield age
        stale = GaugeMetricFamily(
            "spreadwatch_data_stale", "1 when answers are marked stale (late, incomplete or failed data)"
        )
        stale.add_metric([], 1 if status.stale else 0)
        yield stale
        failing = GaugeMetricFamily(
            "spreadwatch_last_fetch_failed", "1 when the latest fetch of the configured source failed"
        )
        failing.add_metric([], 1 if status.last_error is not None else 0)
        yield failing

        transitions = CounterMetricFamily(
            "spreadwatch_alert_transitions",
            "Alert transitions recorded in the store (one per subscriber), by rule and kind",
            labels=["rule", "kind"],
        )
        rows = store.connect().execute("SELECT rule_id, kind, COUNT(*) FROM alert_log GROUP BY rule_id, kind")
        for rule, kind, n in rows.fetchall():
            transitions.add_metric([rule, kind], n)
        yield transitions
