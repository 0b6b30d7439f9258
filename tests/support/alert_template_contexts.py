"""Sample contexts for the alert templates (alert_*, data_problem, alerts_admin), merged into
``template_contexts.SAMPLE_CONTEXTS``. The hostile ``EVIL`` name rides in the snapshot's top five."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from jobs.alerting.alert_log import LogEntry
from jobs.engine.rules import Kind, Observation, RuleParams, Transition


def _transition(kind: Kind, tier: int, previous: int, snap: Any) -> Transition:
    return Transition(
        kind=kind,
        day=snap.as_of,
        tier=tier,
        previous_tier=previous,
        observation=Observation(snap.as_of, snap.spread, snap.percentile, False),
        episode_start=date(2025, 1, 20),
        peak_spread=snap.spread,
        peak_day=snap.as_of,
        reason="percentile 93.6 >= P90",
    )


def _alert(kind: Kind, tier: int, previous: int) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        from support.template_contexts import snapshot

        snap = snapshot()
        return {
            "snap": snap,
            "tr": _transition(kind, tier, previous, snap),
            "params": RuleParams(consecutive_days=2),
            "source_label": "CSV sw_l1_daily.csv",
            "synthetic": True,
        }

    return build


def _data_problem() -> dict[str, Any]:
    from support.template_contexts import EVIL

    return {
        "problem": "fetch_failed",
        "day": date(2025, 2, 14),
        "cutoff": "21:00",
        "source_label": "akshare",
        "last_data_date": date(2025, 2, 13),
        "known_until": date(2026, 12, 31),
        "incomplete": None,
        "error": EVIL,
    }


def _alerts_admin() -> dict[str, Any]:
    from support.template_contexts import EVIL

    entry = LogEntry(
        id=1,
        rule_id="spread",
        chat_id=42,
        day=date(2025, 2, 14),
        kind="fire",
        tier=1,
        previous_tier=0,
        reason=EVIL,
        inputs={"spread": 54.0, "percentile": 93.6},
        queued=False,
        created_at="2025-02-14T09:00:00+00:00",
    )
    return {
        "rules": [{"rule_id": "spread", "chats": 3, "firing": 2, "by_level": [(1, 1), (2, 1)]}],
        "entries": [entry],
        "last_evaluated": "2025-02-14",
        "outbox": {"pending": 1, "sending": 0, "sent": 10, "failed": 0, "dead": 1},
    }


def _digest() -> dict[str, Any]:
    from jobs.engine.rules import AlertState
    from support.template_contexts import snapshot

    snap = snapshot()
    return {
        "entries": [
            {"day": date(2024, 7, 1), "kind": kind, "tier": tier, "percentile": p, "spread": 40.0 + tier}
            for kind, tier, p in (("fire", 1, 91.2), ("escalate", 2, 96.0), ("remind", 2, 95.5), ("resolve", 0, 79.0))
        ],
        "first_day": date(2024, 6, 4),
        "last_day": date(2024, 8, 26),
        "days": 59,
        "state": AlertState(level=2, episode_start=date(2024, 8, 1)),
        "params": RuleParams(),
        "snap": snap,
        "catch_up_days": 3,
        "source_label": "CSV sw_l1_daily.csv",
        "synthetic": True,
    }


ALERT_CONTEXTS: dict[str, Callable[[], dict[str, Any]]] = {
    "alert_digest": _digest,
    "alert_fire": _alert(Kind.FIRE, 1, 0),
    "alert_escalate": _alert(Kind.ESCALATE, 3, 1),
    "alert_remind": _alert(Kind.REMIND, 2, 2),
    "alert_resolve": _alert(Kind.RESOLVE, 0, 3),
    "data_problem": _data_problem,
    "alerts_admin": _alerts_admin,
}
