"""A sample context for every message kind, used by ``test_templates.py`` to render each template.

Adding a template ``templates/<lang>/<kind>.j2``? Add ``"<kind>": lambda: {...}`` to
``SAMPLE_CONTEXTS`` with real typed objects from ``jobs`` where the template takes them, and put
``EVIL`` into at least one displayed text field, so the test can check it arrives HTML-escaped. A kind
that displays no data at all goes into ``STATIC_KINDS`` instead of carrying ``EVIL``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from bot.telegram.handlers.market import Discontinued
from jobs.alerting.daily import DailyResult
from jobs.alerting.destinations import DestinationView
from jobs.engine.backtest import BacktestResult, Basket, Episode, EpisodeSpan, Forward, Summary
from jobs.engine.pipeline import DataStatus, RefreshResult, UpdateResult
from jobs.engine.report import NoDataReason, SpreadReport
from jobs.engine.rules import RuleParams
from jobs.model.figures import IndustryGain, Snapshot
from jobs.model.revisions import PriceRevision, RevisionBatch, RevisionSpan
from jobs.regimes.episodes import with_regimes
from jobs.regimes.history import RegimeHistory
from jobs.store.datastore import FetchRecord
from support.alert_template_contexts import ALERT_CONTEXTS
from support.regime_template_contexts import REGIME_CONTEXTS, REGIME_STATIC_KINDS

EVIL = "<b>R&D</b>"  # must arrive as &lt;b&gt;R&amp;D&lt;/b&gt;
EVIL_ESCAPED = "&lt;b&gt;R&amp;D&lt;/b&gt;"

DAY = date(2025, 2, 14)


def gains() -> tuple[IndustryGain, ...]:
    names = [EVIL, "传媒", "综合", "电子", "商贸零售", "银行", "食品饮料", "农林牧渔", "石油石化", "公用事业", "煤炭"]
    values = [78.9, 53.7, 48.4, 45.6, 43.2, 10.0, 7.1, 1.7, 0.9, -4.9, -5.0]
    return tuple(IndustryGain(f"8017{i:02d}", n, v, i + 1) for i, (n, v) in enumerate(zip(names, values, strict=True)))


def snapshot() -> Snapshot:
    g = gains()
    return Snapshot(
        as_of=DAY,
        base_date=date(2024, 8, 15),
        spread=54.0,
        percentile=93.6,
        top_avg=53.96,
        bottom_avg=-0.04,
        top=g[:5],
        bottom=tuple(reversed(g[-5:])),
        gains=g,
        n_ranked=len(g),
        history_days=3650,
        history_rank=230,
        window="6M",
        k=5,
    )


def status(stale: bool = True) -> DataStatus:
    failed = FetchRecord(
        "csv:x", "prices", "2025-02-17T08:30:00+00:00", "2025-02-17T08:30:05+00:00", False, 0, DAY, EVIL
    )
    good = FetchRecord("csv:x", "prices", "2025-02-14T08:30:00+00:00", "2025-02-14T08:30:05+00:00", True, 31, DAY, EVIL)
    return DataStatus(
        source="csv:x",
        source_label=f"CSV {EVIL}",
        synthetic=True,
        last_data_date=DAY,
        expected_date=date(2025, 2, 17),
        stale=stale,
        last_fetch=good,
        last_error=failed if stale else None,
        revised=RevisionSpan(DAY, "2025-02-17T08:31:00+00:00", 1),
    )


def revision_ctx() -> dict[str, Any]:
    revisions = (
        PriceRevision("801750", DAY, 5273.09, 6327.708, name=EVIL),
        PriceRevision("801760", date(2025, 2, 13), 1180.5, 1181.0, name="传媒"),
        PriceRevision("801770", date(2025, 2, 13), None, 3120.25, name="通信"),
    )
    batch = RevisionBatch("csv:x", "2025-02-17T08:31:00+00:00", revisions, DAY, 53.99, 94.19, id=7)
    return {
        "batch": batch,
        "shown": list(revisions),
        "more": 12,
        "industries": ["801750", "801760", "801770"],
        "days": [date(2025, 2, 13), DAY],
        "spread_after": 61.15,
        "percentile_after": 99.1,
        "source_label": f"CSV {EVIL}",
        "timezone": "Asia/Shanghai",
    }


def snapshot_ctx() -> dict[str, Any]:
    st = status()
    report = SpreadReport(snapshot(), st, -1.2, 3.4, date(2010, 1, 1), None)
    return {"snap": report.snapshot, "report": report, "status": st, "stale": True}


def backtest_ctx() -> dict[str, Any]:
    span = EpisodeSpan(
        start=date(2015, 5, 20),
        end=date(2015, 7, 1),
        peak_day=date(2015, 6, 5),
        peak_spread=60.1,
        trading_days=28,
        spread_at_fire=52.0,
        percentile_at_fire=91.2,
        tier_at_fire=1,
    )
    forwards = (
        Forward(1, date(2015, 6, 20), date(2015, 6, 19), 55.0, 3.0, 5.0, 1.0, 4.0),
        Forward(3, date(2015, 8, 20), date(2015, 8, 20), 30.0, -22.0, -30.0, -5.0, -25.0, ("801020",)),
        Forward(6, date(2015, 11, 20), None, None, None, None, None, None),
    )
    episode = Episode(span, Basket(("801750",), ("801950",), (EVIL,), ("煤炭",)), forwards)
    summary = Summary(1, 0, 1, 1, 3, 28.0, {1: 3.0, 3: -22.0, 6: None}, {1: 4.0, 3: -25.0, 6: None})
    result = BacktestResult(
        RuleParams(), date(2010, 1, 4), DAY, DAY, (1, 3, 6), (episode,), summary, revised_from=date(2024, 12, 2)
    )
    result = with_regimes(result, RegimeHistory(()))  # no day of history: every scenario unknown
    return {"bt": result, "recent": result.recent(3), "status": status(), "stale": True}


SAMPLE_CONTEXTS: dict[str, Callable[[], dict[str, Any]]] = {
    "spread": snapshot_ctx,
    "top5": snapshot_ctx,
    "bottom5": snapshot_ctx,
    "no_data": lambda: {"source_label": f"CSV {EVIL}", "error": EVIL},
    "no_data_reason": lambda: {"source_label": "CSV x.csv", "reason": NoDataReason("no_file", path=EVIL)},
    "industry": lambda: {**snapshot_ctx(), "ind": gains()[0], "position": "top"},
    "industry_discontinued": lambda: {
        "ind": Discontinued("801020", EVIL, date(2010, 1, 4), date(2021, 12, 10), gains()[2], date(2021, 12, 10), 28),
        "snap": snapshot(),
    },
    "industry_unknown": lambda: {"query": EVIL, "suggestions": list(gains()[:2]), "ambiguous": True},
    "usage": lambda: {"command": "industry"},
    "history_caption": lambda: {"period": "3y", "first": date(2022, 2, 14), **snapshot_ctx()},
    "start": lambda: {"name": EVIL, "subscribed": False, "commands": [{"name": "spread", "description": EVIL}]},
    "help": lambda: {"commands": [{"name": "spread", "description": EVIL}], "admin": True},
    "subscription": lambda: {"action": "subscribed", "threshold": 95.0, "default_threshold": 90.0},
    "settings": lambda: {
        "lang_name": "en",
        "subscribed": True,
        "threshold": 95.0,
        "default_threshold": 90.0,
        "muted_until": date(2025, 2, 21),
        "notice": "muted",
    },
    "status": lambda: {
        "status": status(),
        "stale": True,
        "next_run": datetime(2025, 2, 17, 8, 30, tzinfo=UTC),
        "last_run": DailyResult("fetch_failed", DAY, message=EVIL),
        "admin": True,
        "admins_configured": True,
        "last_evaluated": "2025-02-14",
        "timezone": "Asia/Shanghai",
    },
    "refresh": lambda: {
        "phase": "done",
        "result": UpdateResult(RefreshResult("csv:x", False, 0, DAY, EVIL), 0, DAY),
    },
    "not_admin": dict,
    "admin_private": lambda: {"bot_username": "spreadwatch_bot"},
    "notify_test": lambda: {"destination": EVIL},
    "destinations_admin": lambda: {
        "phase": "list",
        "views": [
            DestinationView("desk", "wecombot", True, 5, f"HTTP 503 {EVIL}", 2),
            DestinationView("hook", "json", False, 0, None, 0),
        ],
    },
    "not_group_admin": dict,
    "not_allowed": lambda: {"chat_id": -100123},
    "too_many_requests": lambda: {"seconds": 3},
    "unknown_command": lambda: {"command": EVIL, "suggestions": ["spread"]},
    "text_hint": dict,
    "error": dict,
    "toast": lambda: {"key": "saved"},
    "backtest": backtest_ctx,
    "export_caption": lambda: {
        "first": date(2010, 1, 4),
        "last": DAY,
        "rows": 3650,
        "status": status(),
        "stale": True,
    },
    "data_revised": revision_ctx,
    **REGIME_CONTEXTS,
    **ALERT_CONTEXTS,
}

# kinds whose sample context carries no text from data or users (nothing to escape)
STATIC_KINDS: set[str] = {
    "usage",
    "subscription",
    "settings",
    "not_admin",
    "admin_private",
    "not_group_admin",
    "not_allowed",
    "too_many_requests",
    "text_hint",
    "error",
    "toast",
    *REGIME_STATIC_KINDS,
}
