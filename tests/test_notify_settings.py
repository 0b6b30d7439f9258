"""``notify.destinations``: validated at start with one-line errors naming the key; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.main import main
from jobs.config.notify_settings import expand_url
from jobs.config.settings import ConfigError, parse_settings


def _dest(**kw: object) -> dict[str, object]:
    return {"notify": {"destinations": [{"name": "desk", "url": "json://127.0.0.1:9/hook", **kw}]}}


def test_a_destination_is_read_with_its_defaults() -> None:
    (d,) = parse_settings(_dest(lang="en", threshold=95)).notify.destinations
    assert (d.name, d.lang, d.threshold, d.mute) == ("desk", "en", 95.0, False)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (_dest(url="nosuchscheme://SECRET123"), "notify.destinations[0].url"),
        (_dest(lang="fr"), "notify.destinations[0].lang"),
        (_dest(threshold=150), "notify.destinations[0].threshold"),
        (_dest(name="a b"), "notify.destinations[0].name"),
        (_dest(colour="red"), "notify.destinations[0].colour"),
    ],
)
def test_a_bad_destination_names_its_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_settings(raw)
    assert str(exc.value).startswith(f"config error: {key}:")
    assert "SECRET123" not in str(exc.value)


def test_two_destinations_may_not_share_a_name() -> None:
    raw = {"notify": {"destinations": [{"name": "a", "url": "json://h/x"}, {"name": "a", "url": "form://h/y"}]}}
    with pytest.raises(ConfigError, match="used twice"):
        parse_settings(raw)


def test_a_url_naming_an_unset_variable_is_still_checked_for_its_form() -> None:
    parse_settings(_dest(url="wecombot://${SW_TEST_UNSET_KEY}"))
    with pytest.raises(ConfigError, match=r"notify\.destinations\[0\]\.url"):
        parse_settings(_dest(url="nosuchscheme://${SW_TEST_UNSET_KEY}"))


def test_variables_are_expanded_only_at_send_time() -> None:
    assert expand_url("dingtalk://${TOK}/", {"TOK": "abc"}) == "dingtalk://abc/"
    with pytest.raises(KeyError, match="TOK"):
        expand_url("dingtalk://${TOK}/", {})


def test_check_config_masks_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SW_TEST_WECOM_KEY", "wecomsecretvalue")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"storage:\n  path: {tmp_path / 's.db'}\nnotify:\n  destinations:\n"
        "    - {name: wecom, url: 'wecombot://${SW_TEST_WECOM_KEY}'}\n"
        "    - {name: ding, url: 'dingtalk://literaltokensecret0123/', lang: en, rules: [spread], format: text}\n",
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "destination wecom (zh, text): wecombot://${SW_TEST_WECOM_KEY}; $SW_TEST_WECOM_KEY: set" in out
    assert "destination ding (en, text, rules: spread): dingtalk://" in out
    assert "wecomsecretvalue" not in out and "literaltokensecret0123" not in out
