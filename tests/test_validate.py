"""Batch validation: each rule rejects with a message naming the industry and the day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.market.sources.base import PriceBatch
from jobs.market.validate import BatchRejected, validate_batch
from jobs.store.datastore import Store

D1, D2, D3 = date(2025, 2, 12), date(2025, 2, 13), date(2025, 2, 14)
DECLARED = {"801750": "计算机", "801950": "煤炭"}


def rows(*items: tuple[date, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(items, columns=["date", "code", "name", "close"])


def good() -> list[tuple[date, str, str, float]]:
    return [(d, c, n, 1000.0 + i) for i, d in enumerate((D1, D2, D3)) for c, n in DECLARED.items()]


def reject(batch_rows: pd.DataFrame, last: dict[str, tuple[date, float]] | None = None, complete: bool = True) -> str:
    with pytest.raises(BatchRejected) as info:
        validate_batch(PriceBatch(batch_rows, dict(DECLARED), complete), last or {}, 0.25)
    return str(info.value)


def test_a_good_batch_passes_sorted() -> None:
    by_code = rows(*good()).sort_values("code", kind="stable")  # grouped by industry, dates ascending
    out = validate_batch(PriceBatch(by_code, dict(DECLARED)), {}, 0.25)
    assert list(zip(out["date"], out["code"], strict=True))[:2] == [(D1, "801750"), (D1, "801950")]
    assert len(out) == 6


def test_duplicate_dates_are_rejected() -> None:
    msg = reject(rows(*good(), (D3, "801750", "计算机", 1002.0)))
    assert "801750 on 2025-02-14: duplicate date" in msg


def test_dates_must_ascend_within_an_industry() -> None:
    items = good()
    items[0], items[4] = items[4], items[0]  # 801750's D3 row before its D1 row
    msg = reject(rows(*items))
    assert "801750: dates are not ascending" in msg


@pytest.mark.parametrize("bad", [0.0, -3.5, float("nan"), float("inf")])
def test_closes_must_be_positive_finite_numbers(bad: float) -> None:
    items = good()
    items[3] = (D2, "801950", "煤炭", bad)
    assert "801950 on 2025-02-13: close is not a positive number" in reject(rows(*items))


def test_undeclared_codes_are_rejected() -> None:
    msg = reject(rows(*good(), (D3, "801999", "新行业", 10.0)))
    assert "undeclared industry code(s) 801999" in msg


def test_names_must_match_what_the_source_declared() -> None:
    items = good()
    items[1] = (D1, "801950", "煤炭开采", items[1][3])
    assert "801950 is named '煤炭开采', expected '煤炭'" in reject(rows(*items))


def test_a_jump_beyond_the_limit_against_the_stored_last_close_is_rejected() -> None:
    batch = rows((D3, "801750", "计算机", 1300.0), (D3, "801950", "煤炭", 1000.0))
    last = {"801750": (D2, 1000.0), "801950": (D2, 1000.0)}
    msg = reject(batch, last)
    assert "801750 on 2025-02-14: close 1300 moves 30% from 1000 on 2025-02-13 (limit 25%)" in msg
    # the same move inside the limit passes
    ok = rows((D3, "801750", "计算机", 1240.0), (D3, "801950", "煤炭", 1000.0))
    assert len(validate_batch(PriceBatch(ok, dict(DECLARED)), last, 0.25)) == 2


def test_a_jump_inside_the_batch_is_rejected() -> None:
    items = good()
    items[2] = (D2, "801750", "计算机", 2500.0)
    assert "801750 on 2025-02-13: close 2500 moves" in reject(rows(*items))


def test_a_batch_must_start_after_the_stored_data() -> None:
    msg = reject(rows(*good()), {"801750": (D2, 1000.0), "801950": (D2, 1000.0)})
    assert "801750: batch starts 2025-02-12, not after the stored 2025-02-13" in msg


def test_a_missing_industry_is_rejected_for_a_complete_source() -> None:
    only_one = rows(*[r for r in good() if r[1] == "801750"])
    assert "industries missing from the batch: 801950" in reject(only_one)
    items = [r for r in good() if not (r[1] == "801950" and r[0] == D3)]
    assert "2025-02-14: industries missing: 801950" in reject(rows(*items))


def test_a_csv_may_change_industries_over_time() -> None:
    # CSV batches span classification eras: an industry may start or stop
    items = [r for r in good() if not (r[1] == "801950" and r[0] == D3)]
    out = validate_batch(PriceBatch(rows(*items), dict(DECLARED), complete=False), {}, 0.25)
    assert len(out) == 5


def test_every_problem_is_listed_up_to_a_limit() -> None:
    items = [(d, c, n, -1.0) for d, c, n, _ in good()]
    msg = reject(rows(*items))
    assert msg.startswith("batch rejected: ") and "(+1 more)" in msg


def test_a_rejected_csv_batch_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    csv = tmp_path / "mine.csv"
    head = "date,code,name,close\n"
    good_lines = "".join(f"{d},{c},{n},{v}\n" for d, c, n, v in good())
    csv.write_text(head + good_lines, encoding="utf-8")
    settings = parse_settings({"data": {"source": f"csv:{csv}"}, "storage": {"path": str(tmp_path / "s.db")}})
    store = Store(settings.storage.path)
    engine = Engine(settings, store)
    assert engine.refresh(D3).ok
    before = store.load_prices(engine.source.name)

    csv.write_text(head + good_lines + "2025-02-17,801750,计算机,9999\n2025-02-17,801950,煤炭,1003\n", encoding="utf-8")
    result = engine.refresh(date(2025, 2, 17))

    assert not result.ok and "801750 on 2025-02-17: close 9999 moves" in result.message
    pd.testing.assert_frame_equal(store.load_prices(engine.source.name), before)
    logged = store.last_fetch(engine.source.name)
    assert logged is not None and not logged.ok and logged.message == result.message


@pytest.mark.parametrize("name", ["计算机\u202e", "\x1b[31m计算机", "计\x00算机"])
def test_an_industry_name_with_control_or_bidi_characters_is_rejected_naming_it_escaped(name: str) -> None:
    spoofed = [(d, c, name if c == "801750" else n, p) for d, c, n, p in good()]
    with pytest.raises(BatchRejected) as info:
        validate_batch(PriceBatch(rows(*spoofed), {**DECLARED, "801750": name}, False), {}, 0.25)
    msg = str(info.value)
    assert "801750" in msg and "control or bidi characters" in msg
    assert not any(ch in msg for ch in "\x1b\x00\u202e")  # the message itself carries none of them


def test_a_csv_whose_names_hold_an_escape_sequence_is_refused_and_the_data_kept(tmp_path: Path) -> None:
    csv = tmp_path / "own.csv"
    csv.write_text(
        "date,code,name,close\n"
        + "".join(f"{d},{c},{n},{p}\n" for d, c, n, p in good()).replace("煤炭", "煤炭\x1b]0;pwned\x07"),
        encoding="utf-8",
    )
    settings = parse_settings({"data": {"source": f"csv:{csv}"}, "storage": {"path": str(tmp_path / "s.db")}})
    store = Store(tmp_path / "s.db")
    try:
        result = Engine(settings, store).update(until=D3)
    finally:
        store.close()
    assert not result.refresh.ok
    assert "U+001B" in result.refresh.message and "\x1b" not in result.refresh.message
