"""The bot's shared objects, typed: python-telegram-bot keeps one :class:`BotData` per application
(``ContextTypes(bot_data=BotData)``), so handlers and jobs read ``context.bot_data.services`` instead of
string keys, and the caches of the heavy answers live here rather than in a handler module.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.ops.metrics import NO_EVENTS, Events, Metrics
from bot.ops.ops_server import OpsServer
from bot.telegram.chat_limits import ChatLimits
from bot.telegram.delivery import OutboxSender
from bot.telegram.menu import MENU, MenuCommand
from bot.web.server import WebServer
from jobs.alerting.apprise_delivery import NotifySender
from jobs.alerting.daily import DailyResult
from jobs.alerting.services import Services
from jobs.engine.backtest import BacktestResult, load_backtest
from jobs.engine.rules import params_from_settings
from jobs.regimes.episodes import attach_regimes
from jobs.regimes.file_inputs import files_signature
from jobs.regimes.history import build_history
from jobs.regimes.regime_chart import history_png
from jobs.regimes.repo import RegimeRepo


class BacktestCache:
    """The last backtest, keyed by what it depends on: source, stored prices and latest day, metric and
    rules, and the regime inputs (stored series, analysis, boards and events; the input files)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[Any, ...], BacktestResult] | None = None

    def get(self, services: Services, source: str) -> BacktestResult:
        """The backtest from ``metric.history_start`` to the latest stored day (runs in a worker thread)."""
        params = params_from_settings(services.settings.alerts)
        store, inputs = services.store, services.settings.regimes.inputs
        key = (
            source,
            store.last_snapshot_date(source),
            store.get_meta(f"prices_version:{source}"),
            services.engine.metric_signature(),
            params,
            RegimeRepo(store).signature(),
            files_signature(inputs),
        )
        with self._lock:
            if self._entry is not None and self._entry[0] == key:
                return self._entry[1]
        result = load_backtest(services.store, source, params, services.settings.metric.history_start)
        result = attach_regimes(
            services.store, services.settings, source, result, services.settings.metric.history_start, None
        )
        with self._lock:
            self._entry = (key, result)
        return result


class HistoryChartCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[Any, ...], tuple[bytes, Any]] | None = None

    def get(self, services: Services, source: str, lang: str = "en") -> tuple[bytes, Any]:
        """(PNG, history) from the first stored day to the last, the chart in ``lang`` (runs in a worker thread)."""

        key = (source, services.store.last_snapshot_date(source), services.engine.metric_signature(), lang)
        with self._lock:
            if self._entry is not None and self._entry[0] == key:
                return self._entry[1]
        history = build_history(services.store, services.settings, source)
        value = (
            history_png(services.store, services.settings, source, history, lang, services.engine.source.synthetic),
            history,
        )
        with self._lock:
            self._entry = (key, value)
        return value


@dataclass
class BotData:
    """Everything the application's handlers and jobs share; built empty by python-telegram-bot, filled
    by the composition root (:func:`bot.telegram.app.build_application`) before the first update."""

    services_: Services | None = None
    menu: list[MenuCommand] = field(default_factory=lambda: list(MENU))
    metrics: Metrics | None = None  # with ops.listen
    ops_server: OpsServer | None = None  # with ops.listen, while the bot runs
    web_server: WebServer | None = None  # with webapp.listen, while the bot runs
    outbox_sender: OutboxSender | None = None
    notify_sender: NotifySender | None = None
    daily_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one daily job at a time
    # the admin /refresh, the first fetch and the daily job: two updates at once would store overlapping
    # batches and the second would be rejected as a failure
    refresh_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    regimes_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_daily: DailyResult | None = None  # /status shows it; set once a run is complete
    refused_chats: set[int] = field(default_factory=set)  # told once that the allow-list excludes them
    chat_limits: ChatLimits | None = None  # the per-chat command buckets (set by build_application)
    backtest_cache: BacktestCache = field(default_factory=BacktestCache)
    regime_history_chart: HistoryChartCache = field(default_factory=HistoryChartCache)

    @property
    def events(self) -> Events:
        """The application's metrics, or the do-nothing base when ``ops.listen`` is off."""
        return self.metrics if self.metrics is not None else NO_EVENTS

    @property
    def services(self) -> Services:
        if self.services_ is None:
            raise RuntimeError("BotData.services is set by build_application before the bot starts")
        return self.services_


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def bot_data_of(application: AnyApplication) -> BotData:
    data = application.bot_data
    assert isinstance(data, BotData), "the application was built without CONTEXT_TYPES"
    return data
