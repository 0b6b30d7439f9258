"""Every template renders in both languages, and data containing '<' and '&' arrives escaped."""

from __future__ import annotations

from datetime import date

import pytest
from support.fakebot import _balanced_html
from support.template_contexts import EVIL, EVIL_ESCAPED, SAMPLE_CONTEXTS, STATIC_KINDS

from jobs.config.languages import LANGS
from jobs.rendering.messages import TELEGRAM_LIMIT, TEMPLATES_DIR, render, split_message


def kinds(lang: str) -> set[str]:
    return {p.stem for p in (TEMPLATES_DIR / lang).glob("*.j2") if not p.name.startswith("_")}


ALL_KINDS = sorted(set().union(*(kinds(lang) for lang in LANGS)))


def test_every_kind_exists_in_both_languages() -> None:
    for lang in LANGS:
        missing = set(ALL_KINDS) - kinds(lang)
        assert not missing, f"templates/{lang}/ lacks {sorted(missing)}"


def test_every_kind_has_a_sample_context() -> None:
    missing = [k for k in ALL_KINDS if k not in SAMPLE_CONTEXTS]
    assert not missing, f"add a sample context to tests/support/template_contexts.py for: {missing}"


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("lang", LANGS)
def test_renders_escaped_valid_telegram_html(kind: str, lang: str) -> None:
    if kind not in SAMPLE_CONTEXTS:
        pytest.fail(f"no sample context for template kind {kind!r}: add one to tests/support/template_contexts.py")
    text = render(kind, lang, **SAMPLE_CONTEXTS[kind]())
    assert text.strip(), "renders empty"
    assert EVIL not in text, "data reached the message unescaped"
    if kind not in STATIC_KINDS:
        assert EVIL_ESCAPED in text, "the sample's hostile text is not shown (put EVIL in a displayed field)"
    for chunk in split_message(text):
        assert len(chunk) <= TELEGRAM_LIMIT
        assert _balanced_html(chunk), f"not valid Telegram HTML: {chunk!r}"


def test_split_message_keeps_lines_whole() -> None:
    lines = [f"{i:04d} " + "x" * 90 for i in range(200)]
    chunks = split_message("\n".join(lines))
    assert len(chunks) > 1 and all(len(c) <= TELEGRAM_LIMIT for c in chunks)
    assert "\n".join(chunks).split("\n") == lines


@pytest.mark.parametrize("lang", LANGS)
def test_every_admin_notice_renders_in_both_languages(lang: str) -> None:
    from jobs.engine.pipeline import IncompleteDay

    base = {
        "day": date(2027, 2, 8),
        "cutoff": "21:00",
        "source_label": "CSV <sw>.csv",
        "last_data_date": date(2027, 2, 5),
        "known_until": date(2026, 12, 31),
        "incomplete": None,
        "error": None,
        "unknown_day": date(2027, 2, 8),
    }
    unknown = render("data_problem", lang, **{**base, "problem": "calendar_unknown"})
    assert "2027-02-08" in unknown and "2026-12-31" in unknown and "spreadwatch calendar-refresh" in unknown
    failed = render("data_problem", lang, **{**base, "problem": "calendar_refresh_failed", "error": "timeout"})
    assert "2026-12-31" in failed and "timeout" in failed
    lacking = IncompleteDay(date(2027, 2, 8), (("801770", "通信"),))
    missing = render("data_problem", lang, **{**base, "problem": "missing", "incomplete": lacking})
    assert ("通信" if lang == "zh" else "Telecommunications") in missing and "&lt;sw&gt;" in missing
    paused = render(
        "data_problem",
        lang,
        **{**base, "problem": "destination_paused", "error": "HTTP 503"},
        destination="wecom",
        failures=5,
    )
    assert "wecom" in paused and "HTTP 503" in paused and "notify-test --destination wecom" in paused
