"""Rows a source holds dated after the day a refresh runs up to are left out and counted, never dropped
without a word: the refresh's message says how many and from which day, and they are taken in once the
day has come."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from support.cli_support import write_csv

from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.store.datastore import Store

UNTIL = date(2025, 2, 14)  # a Friday


def _engine(tmp_path: Path, csv: Path) -> Engine:
    settings = parse_settings({"data": {"source": f"csv:{csv}"}, "storage": {"path": str(tmp_path / "s.db")}}, "t")
    return Engine(settings, Store(tmp_path / "s.db"))


def test_rows_after_the_refresh_day_are_counted_and_reported(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "p.csv", date(2024, 1, 2), date(2025, 2, 28), industries=12)
    engine = _engine(tmp_path, csv)
    result = engine.refresh(UNTIL)
    assert result.ok and result.last_date == UNTIL
    # 2025-02-17 .. 02-28: ten weekdays of 12 industries
    assert "120 row(s) dated after 2025-02-14 (from 2025-02-17) left out" in result.message, result.message
    record = engine.store.last_fetch(engine.source.name)
    assert record is not None and "left out" in record.message
    later = engine.refresh(date(2025, 2, 28))
    assert later.last_date == date(2025, 2, 28) and "left out" not in later.message


def test_a_source_with_nothing_after_the_day_says_nothing_of_it(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "p.csv", date(2024, 1, 2), UNTIL, industries=12)
    result = _engine(tmp_path, csv).refresh(UNTIL)
    assert result.ok and "left out" not in result.message
