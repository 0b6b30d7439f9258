"""The jinja filters behind localised messages: moments for people, gain windows, fetch problems, names."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from support.language_checks import CJK
from support.template_contexts import snapshot_ctx

from jobs.market.industry_names import display_name, english_name
from jobs.rendering.messages import fetch_problem, fmt_when, fmt_window, render


def test_moments_are_shown_in_the_schedule_zone_for_people() -> None:
    stored = "2026-12-04T08:31:05+00:00"  # how the store keeps *_at columns
    assert fmt_when(stored, "Asia/Shanghai", "en") == "2026-12-04 16:31"
    assert fmt_when(stored, "Asia/Shanghai", "zh") == "2026年12月4日 16:31"
    assert fmt_when(datetime(2026, 12, 31, 20, 0, tzinfo=UTC), "Asia/Shanghai", "zh") == "2027年1月1日 04:00"
    assert fmt_when("2026-12-04T08:31:05", "Europe/London", "en") == "2026-12-04 08:31"  # naive = UTC
    assert fmt_when(None, "Asia/Shanghai", "en") == "—"


def test_windows_read_as_words() -> None:
    assert fmt_window("6M", "en") == "6-month" and fmt_window("6M", "zh") == "6个月"
    assert fmt_window("120D", "en") == "120-trading-day" and fmt_window("120D", "zh") == "120个交易日"


def test_fetch_problems_are_classified_from_the_log_message() -> None:
    assert fetch_problem("batch rejected: 801010 on 2026-06-03: close is not a positive number") == "rejected"
    assert fetch_problem("unexpected KeyError: 'close'") == "unexpected"
    assert fetch_problem("index_hist_sw(801010): ReadTimeout: timed out") == "fetch"
    assert fetch_problem(None) == "fetch"


def test_english_names_follow_the_name_of_the_era() -> None:
    assert english_name("计算机", "801750") == "Computer"
    assert english_name("餐饮旅游", "801210") == "Catering and Tourism"  # SW2000
    assert english_name("休闲服务", "801210") == "Leisure Services"  # SW2014
    assert english_name("社会服务", "801210") == "Social Services"  # SW2021
    assert english_name("计算机行业", "801750") == "Computer"  # an unknown name, a known code
    assert english_name("自选行业", "X001") is None  # a classification of the user's own
    assert display_name("自选行业", "X001", "en") == "自选行业" and display_name("计算机", "801750", "zh") == "计算机"
    assert display_name("自选行业", "X001", "en", "My Industry") == "My Industry"  # the source's own English name


def test_every_citic_industry_of_the_shared_data_has_its_english_name() -> None:
    data = pd.read_csv(Path(__file__).resolve().parents[2] / "shared" / "data" / "citic_l1_daily.csv", dtype=str)
    names = dict(zip(data["code"], data["name"], strict=False))
    assert len(names) == 30
    english = {code: english_name(name, code) for code, name in names.items()}
    assert all(en and not CJK.search(en) for en in english.values()), english
    assert english["CI005011"] == "Power Equipment and New Energy" and english["CI005010"] == "Machinery"
    assert english["CI005016"] == "Household Appliances" and english["CI005026"] == "Telecommunications"
    assert len(set(english.values())) == 30  # no two industries under one English name


def test_a_stale_note_is_one_sentence_in_each_language_and_detail_only_for_admins() -> None:
    ctx = snapshot_ctx()
    raw = "batch rejected: 801010 on 2026-06-03: close is not a positive number"
    status = ctx["status"]
    ctx["status"] = replace(status, last_error=replace(status.last_error, message=raw))
    zh = render("spread", "zh", **ctx)
    assert "最近一批数据未通过校验，未入库" in zh and "batch rejected" not in zh
    assert raw in render("spread", "zh", admin=True, **ctx)
    en = render("spread", "en", **ctx)
    assert "the last batch failed validation and was not stored" in en and "batch rejected" not in en
