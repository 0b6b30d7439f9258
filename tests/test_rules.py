"""The pure alert rules: hand-built sequences with known transitions, and the real spread series
against an independent, plainly written reading of the rules."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from jobs.engine.rules import AlertState, Kind, Observation, RuleParams, Transition, evaluate, replay, tier_of

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW = DATA / "sw_l1_daily.csv"

START = date(2024, 1, 1)


def obs_seq(percentiles: list[float], new_highs: set[int] = frozenset(), spreads: list[float] | None = None):  # type: ignore[assignment]
    """One observation per 'trading day' (consecutive calendar days are fine for the pure rules)."""
    spreads = spreads or [20.0 + p / 10 for p in percentiles]
    return [
        Observation(day=START + timedelta(days=i), spread=s, percentile=p, new_high=i in new_highs)
        for i, (p, s) in enumerate(zip(percentiles, spreads, strict=True))
    ]


def kinds(transitions: list[Transition]) -> list[tuple[int, str, int]]:
    """(day index, kind, tier) per transition."""
    return [((t.day - START).days, t.kind.value, t.tier) for t in transitions]


NO_REMIND = RuleParams(remind_every_days=0)


def test_fire_once_and_resolve_only_below_the_resolve_level() -> None:
    # 85 is below enter (90) but above resolve (80): the episode holds
    _, out = replay(NO_REMIND, obs_seq([50, 91, 92, 85, 89, 81, 79, 85, 91]))
    assert kinds(out) == [(1, "fire", 1), (6, "resolve", 0), (8, "fire", 1)]


def test_hysteresis_means_no_flapping_around_enter() -> None:
    _, out = replay(NO_REMIND, obs_seq([91, 89, 91, 89, 91, 89]))
    assert kinds(out) == [(0, "fire", 1)]


def test_consecutive_days_before_firing() -> None:
    params = RuleParams(consecutive_days=3, remind_every_days=0)
    # two days, a break, then three days in a row: fires on the third of them
    _, out = replay(params, obs_seq([91, 92, 70, 91, 93, 95.5, 96]))
    assert kinds(out) == [(5, "fire", 2)]
    assert "3 consecutive trading days" in out[0].reason


def test_streak_state_survives_between_calls() -> None:
    params = RuleParams(consecutive_days=2, remind_every_days=0)
    days = obs_seq([91, 92])
    state, t1 = evaluate(params, AlertState(), days[0])
    assert t1 is None and state.streak == 1 and not state.firing
    state, t2 = evaluate(params, state, days[1])
    assert t2 is not None and t2.kind is Kind.FIRE and state.firing


def test_escalation_once_per_tier_per_episode() -> None:
    # enter at P90, P95 escalates, back below 95, up again: no second escalation in the same episode
    _, out = replay(NO_REMIND, obs_seq([90, 96, 91, 97, 92, 70, 96, 97]))
    assert kinds(out) == [(0, "fire", 1), (1, "escalate", 2), (5, "resolve", 0), (6, "fire", 2)]
    assert out[1].previous_tier == 1


def test_higher_tier_suppresses_the_lower_one() -> None:
    # jumping straight to P96 fires at tier 2, with no separate tier-1 message
    _, out = replay(NO_REMIND, obs_seq([50, 96, 91]))
    assert kinds(out) == [(1, "fire", 2)]


def test_new_high_tier() -> None:
    seq = obs_seq([92, 96, 100, 100, 97], new_highs={2, 3})
    _, out = replay(NO_REMIND, seq)
    assert kinds(out) == [(0, "fire", 1), (1, "escalate", 2), (2, "escalate", 3)]
    assert out[2].reason == "spread at a new historical high"
    _, out = replay(RuleParams(remind_every_days=0, new_high_tier=False), seq)
    assert kinds(out) == [(0, "fire", 1), (1, "escalate", 2)]


def test_previous_tier_is_the_highest_announced_not_todays_dip() -> None:
    _, out = replay(NO_REMIND, obs_seq([96, 91, 100, 91, 50], new_highs={2}))
    assert kinds(out) == [(0, "fire", 2), (2, "escalate", 3), (4, "resolve", 0)]
    assert [t.previous_tier for t in out] == [0, 2, 3]


def test_new_high_first_day_fires_at_the_top_tier() -> None:
    _, out = replay(NO_REMIND, obs_seq([50, 100], new_highs={1}))
    assert kinds(out) == [(1, "fire", 3)]


def test_reminders_count_trading_days_since_the_last_message() -> None:
    params = RuleParams(remind_every_days=3)
    # fire day 0; reminders at 3 and 6; escalation at 8 resets the count; next reminder at 11
    seq = obs_seq([91, 91, 91, 91, 91, 91, 91, 91, 96, 91, 91, 91, 50])
    _, out = replay(params, seq)
    assert kinds(out) == [
        (0, "fire", 1),
        (3, "remind", 1),
        (6, "remind", 1),
        (8, "escalate", 2),
        (11, "remind", 1),
        (12, "resolve", 0),
    ]


def test_resolve_carries_the_episode_and_its_peak() -> None:
    seq = obs_seq([91, 95, 93, 60], spreads=[40.0, 50.0, 45.0, 30.0])
    state, out = replay(NO_REMIND, seq)
    resolve = out[-1]
    assert resolve.kind is Kind.RESOLVE and resolve.previous_tier == 2
    assert resolve.episode_start == START and resolve.peak_spread == 50.0 and resolve.peak_day == START + timedelta(1)
    assert state == AlertState()


def test_replay_can_resume_from_a_state() -> None:
    seq = obs_seq([50, 91, 96, 85, 79, 92, 93])
    full_state, full = replay(RuleParams(), seq)
    mid_state, first = replay(RuleParams(), seq[:3])
    end_state, rest = replay(RuleParams(), seq[3:], mid_state)
    assert first + rest == full and end_state == full_state


def test_personal_threshold_keeps_the_hysteresis_gap() -> None:
    base = RuleParams(enter=90, high=95, resolve=80)
    assert base.with_threshold(None) is base and base.with_threshold(90) is base
    p = base.with_threshold(85)
    assert (p.enter, p.high, p.resolve) == (85, 95, 75)
    p = base.with_threshold(97)
    assert (p.enter, p.high, p.resolve) == (97, 97, 87)
    p = base.with_threshold(5)
    assert (p.enter, p.resolve) == (5, 0)
    with pytest.raises(ValueError):
        base.with_threshold(101)
    with pytest.raises(ValueError):
        base.with_threshold(0)


def test_invalid_params_are_refused() -> None:
    with pytest.raises(ValueError):
        RuleParams(enter=80, resolve=85)
    with pytest.raises(ValueError):
        RuleParams(consecutive_days=0)


def test_tier_of_boundaries() -> None:
    p = RuleParams()
    day = START
    assert tier_of(p, Observation(day, 1.0, 89.99, False)) == 0
    assert tier_of(p, Observation(day, 1.0, 90.0, False)) == 1
    assert tier_of(p, Observation(day, 1.0, 95.0, False)) == 2
    assert tier_of(p, Observation(day, 1.0, 100.0, True)) == 3


# -- an independent reading of the rules, over the real spread series -----------------------------


def reference_transitions(params: RuleParams, observations: list[Observation]) -> list[tuple[date, str, int]]:
    """Episodes first, messages second: a deliberately different shape from ``evaluate``."""

    def tier(o: Observation) -> int:
        if o.percentile < params.enter:
            return 0
        if params.new_high_tier and o.new_high:
            return 3
        return 2 if o.percentile >= params.high else 1

    out: list[tuple[date, str, int]] = []
    i, n = 0, len(observations)
    while i < n:
        # an episode starts on the last day of the first run of `consecutive_days` days at tier >= 1
        run = 0
        while i < n:
            run = run + 1 if tier(observations[i]) > 0 else 0
            if run >= params.consecutive_days:
                break
            i += 1
        if i >= n:
            break
        announced = tier(observations[i])
        out.append((observations[i].day, "fire", announced))
        last_message = i
        i += 1
        while i < n and observations[i].percentile >= params.resolve:
            t = tier(observations[i])
            if t > announced:
                announced = t
                out.append((observations[i].day, "escalate", t))
                last_message = i
            elif params.remind_every_days and i - last_message >= params.remind_every_days:
                out.append((observations[i].day, "remind", max(t, 1)))
                last_message = i
            i += 1
        if i < n:
            out.append((observations[i].day, "resolve", 0))
            i += 1
    return out


@pytest.fixture(scope="module")
def sw_observations() -> list[Observation]:
    if not SW.exists():
        pytest.skip("shared data not present")
    from jobs.engine.spread import compute_history, wide_closes
    from jobs.market.sources.csv_source import CsvSource
    from jobs.model.figures import NameBook

    batch = CsvSource(SW).fetch(None, date(2025, 12, 31))
    history = compute_history(wide_closes(batch.rows), NameBook.constant(batch.declared), "6M", 5, date(2010, 1, 1))
    frame = history.frame
    return [
        Observation(ts.date(), float(r.spread), float(r.percentile), int(r.history_rank) == 1)
        for ts, r in zip(frame.index, frame.itertuples(), strict=True)
    ]


@pytest.mark.parametrize(
    "params",
    [
        RuleParams(),
        RuleParams(consecutive_days=3, remind_every_days=10),
        RuleParams(enter=85, high=97, resolve=70, new_high_tier=False, remind_every_days=0),
        RuleParams().with_threshold(75),
    ],
    ids=["defaults", "3-days-remind-10", "no-new-high", "personal-75"],
)
def test_replay_over_the_real_series_matches_the_reference(
    params: RuleParams, sw_observations: list[Observation]
) -> None:
    _, got = replay(params, sw_observations)
    want = reference_transitions(params, sw_observations)
    assert [(t.day, t.kind.value, t.tier) for t in got] == want
    # the real series has episodes of every kind, so the comparison is not vacuous
    assert {k for _, k, _ in want} >= {"fire", "escalate", "resolve"}
    assert sum(1 for _, k, _ in want if k == "fire") >= 3


def test_the_study_window_holds_an_episode(sw_observations: list[Observation]) -> None:
    window = [o for o in sw_observations if date(2024, 6, 1) <= o.day <= date(2025, 3, 31)]
    _, out = replay(RuleParams(), window)
    assert any(t.kind is Kind.FIRE for t in out)
    assert pd.Timestamp(out[0].day) >= pd.Timestamp("2024-06-01")


def test_no_tier_while_the_percentile_history_is_too_short() -> None:
    params = RuleParams(enter=90, high=95, resolve=80, min_history_days=3, remind_every_days=0)
    seq = [Observation(START + timedelta(days=i), 30.0 + i, 100.0, True, history_days=i + 1) for i in range(4)]
    _, transitions = replay(params, seq)
    # days 1 and 2 rank against one or two days: P100 and a "new high" that mean nothing
    assert [(t.kind, t.day, t.tier) for t in transitions] == [
        (Kind.FIRE, START + timedelta(days=2), 3),
    ]
    # an observation without a known history length is taken as long enough (the pure default)
    assert tier_of(params, Observation(START, 1.0, 99.0, False)) == 2
