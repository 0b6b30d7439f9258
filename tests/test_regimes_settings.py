"""The regimes section: defaults when absent, the example shows them, bad values name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.config.settings import ConfigError, Settings, load_settings, parse_settings

REPO = Path(__file__).resolve().parents[1]


def test_empty_config_and_the_example_give_the_defaults() -> None:
    assert parse_settings({}).regimes == Settings().regimes
    example, _ = load_settings(REPO / "config.example.yaml")
    # the example shows every default, and tracks the study's theme board on top
    assert example.regimes.model_copy(update={"boards": ()}) == Settings().regimes
    assert [b.name for b in example.regimes.boards] == ["DeepSeek概念"]
    assert Settings().regimes.reversal.n_days == 20 and Settings().regimes.heat.on_percentile == 90


def test_boards_and_overrides_parse() -> None:
    s = parse_settings(
        {"regimes": {"boards": [{"name": "DeepSeek概念", "on_share_pct": 7}], "macro": {"event_days": 10}}}
    )
    assert s.regimes.boards[0].name == "DeepSeek概念" and s.regimes.boards[0].on_share_pct == 7
    assert s.regimes.macro.event_days == 10
    # the CLI round-trips settings through model_dump
    assert parse_settings(s.model_dump()).regimes == s.regimes


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"heat": {"on_percentile": 70, "watch_percentile": 80}}, "regimes.heat"),
        ({"reversal": {"n_days": 1}}, "regimes.reversal.n_days"),
        ({"boards": [{"name": ""}]}, "regimes.boards[0].name"),
        ({"macro": {"unknown_key": 1}}, "regimes.macro.unknown_key"),
        ({"fetch": "sometimes"}, "regimes.fetch"),
    ],
)
def test_bad_values_name_the_key(raw: dict, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings({"regimes": raw})
    assert f"config error: {key}:" in str(err.value)
