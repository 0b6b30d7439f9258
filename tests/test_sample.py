"""The bundled synthetic sample: deterministic, 31 real industry names, and labelled synthetic everywhere."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from jobs.config.settings import Settings, parse_settings
from jobs.engine.pipeline import Engine
from jobs.engine.report import build_report
from jobs.market.calendar import TradingCalendar
from jobs.market.sources.base import SW2021_L1, PriceBatch
from jobs.market.sources.sample import START, SampleSource, synthetic_frame
from jobs.market.validate import validate_batch
from jobs.rendering.messages import render
from jobs.store.datastore import Store

UNTIL = date(2025, 6, 30)
LABELS = {"en": "SYNTHETIC sample data", "zh": "合成样本数据"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_frame(UNTIL)


def _on(df: pd.DataFrame, day: date) -> pd.DataFrame:
    return df.loc[df["date"] == day].sort_values("code").reset_index(drop=True)


def test_a_days_values_do_not_depend_on_until(frame: pd.DataFrame) -> None:
    for day, shorter_until in [(date(2024, 6, 28), date(2024, 6, 28)), (date(2025, 3, 14), date(2025, 3, 20))]:
        short = synthetic_frame(shorter_until)
        pd.testing.assert_frame_equal(_on(short, day), _on(frame, day))
        assert not _on(frame, day).empty
    pd.testing.assert_frame_equal(synthetic_frame(date(2010, 3, 1)), synthetic_frame(date(2010, 3, 1)))


def test_31_industries_with_their_real_names_on_every_trading_day(frame: pd.DataFrame) -> None:
    assert dict(zip(frame["code"], frame["name"], strict=True)) == SW2021_L1
    per_day = frame.groupby("date")["code"].nunique()
    assert (per_day == 31).all()
    cal = TradingCalendar.default()
    assert list(per_day.index) == cal.trading_days_between(START, UNTIL)
    assert min(frame["date"]) == START == date(2009, 1, 5)


def test_the_sample_passes_the_same_validation_as_live_data(frame: pd.DataFrame) -> None:
    rows = validate_batch(PriceBatch(frame, dict(SW2021_L1)), {}, 0.25)
    assert len(rows) == len(frame)
    assert (frame["amount"] > 0).all()


def test_fetch_after_a_date_returns_only_later_rows() -> None:
    batch = SampleSource().fetch(date(2025, 6, 26), UNTIL)
    assert sorted(set(batch.rows["date"])) == [date(2025, 6, 27), date(2025, 6, 30)]
    assert batch.declared == SW2021_L1 and batch.complete


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    db = tmp_path_factory.mktemp("sample") / "s.db"
    settings: Settings = parse_settings({"storage": {"path": str(db)}})
    eng = Engine(settings, Store(db))
    assert eng.update(until=UNTIL).refresh.ok
    return eng


def _contexts(engine: Engine) -> dict[str, Any]:
    status = engine.status(datetime(2025, 6, 30, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    report = build_report(engine.store, status, engine.settings.metric.history_start)
    assert report is not None
    return {"snap": report.snapshot, "report": report, "status": status, "stale": report.stale}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("kind", ["spread", "top5", "bottom5"])
def test_every_rendered_answer_says_synthetic(engine: Engine, kind: str, lang: str) -> None:
    ctx = _contexts(engine)
    assert ctx["status"].synthetic and not ctx["stale"]
    assert LABELS[lang] in render(kind, lang, **ctx)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_even_no_data_names_the_synthetic_source(engine: Engine, lang: str) -> None:
    text = render("no_data", lang, source_label=engine.source.label, error=None)
    assert ("SYNTHETIC" if lang == "en" else "合成样本") in text


def test_json_report_flags_synthetic(engine: Engine) -> None:
    ctx = _contexts(engine)
    data = ctx["report"].to_json()
    assert data["synthetic"] is True and data["source"] == "sample" and "SYNTHETIC" in data["source_label"]


def test_a_real_source_is_not_labelled_synthetic(tmp_path: Path, sw_csv: Path) -> None:
    engine = Engine(parse_settings({"data": {"source": f"csv:{sw_csv}"}}), Store(tmp_path / "c.db"))
    assert not engine.source.synthetic and "SYNTHETIC" not in engine.source.label
