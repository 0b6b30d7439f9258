"""Every output built from the bundled synthetic sample says so: the regime answer and its history (text and
chart), the backtest's table, JSON, CSV and chart, and the export's CSV — not only the bot's messages. A
picture or a file travels without the message that came with it."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from support.cli_support import far_calendar, spreadwatch

from jobs.engine.export import SYNTHETIC_CSV_LINE
from jobs.rendering.charts import spread_chart
from jobs.store.datastore import Store

MARK = {"en": "SYNTHETIC sample data", "zh": "合成样本数据"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample store filled up to a fixed day, and a config naming it (no day of the test depends on today)."""
    folder = tmp_path_factory.mktemp("sample")
    config = folder / "config.yaml"
    settings = {
        "storage": {"path": str(folder / "s.db")},
        "data": {"source": "sample", "calendar_file": str(far_calendar(folder / "cal.csv"))},
    }
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")
    run = spreadwatch("report", "--config", str(config), "--as-of", "2025-02-14", cwd=folder)
    assert run.code == 0, run.err
    return config


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_regime_answer_and_history_say_sample(sample: Path, lang: str) -> None:
    run = spreadwatch(
        "regime", "--config", str(sample), "--no-refresh", "--as-of", "2025-02-14", "--lang", lang, cwd=sample.parent
    )
    assert run.code == 0, run.err
    assert MARK[lang] in run.out
    history = spreadwatch(
        "regime", "--history", "--config", str(sample), "--no-refresh", "--lang", lang, cwd=sample.parent
    )
    assert history.code == 0, history.err
    assert MARK[lang] in history.out


def test_the_backtest_and_the_export_say_sample(sample: Path) -> None:
    folder = sample.parent
    csv, png = folder / "episodes.csv", folder / "chart.png"
    run = spreadwatch(
        "backtest",
        "--config",
        str(sample),
        "--to",
        "2025-02-14",
        "--csv",
        str(csv),
        "--png",
        str(png),
        "--force",
        cwd=folder,
    )
    assert run.code == 0, run.err
    assert MARK["zh"] in run.out  # the configured language: zh
    assert csv.read_text(encoding="utf-8").startswith(SYNTHETIC_CSV_LINE)
    as_json = spreadwatch("backtest", "--config", str(sample), "--to", "2025-02-14", "--json", cwd=folder)
    assert json.loads(as_json.out)["synthetic"] is True
    export = spreadwatch("export", "--config", str(sample), "--no-refresh", cwd=folder)
    assert export.code == 0, export.err
    assert export.out.startswith(SYNTHETIC_CSV_LINE)


def test_a_chart_of_the_sample_carries_the_mark_on_the_picture(sample: Path) -> None:
    series = Store(sample.parent / "s.db").spread_series("sample")
    plain = Image.open(io.BytesIO(spread_chart(series, lang="zh"))).convert("RGB")
    marked = Image.open(io.BytesIO(spread_chart(series, lang="zh", synthetic=True))).convert("RGB")
    assert plain.size == marked.size
    changed = int((np.asarray(plain) != np.asarray(marked)).any(axis=2).sum())
    assert changed > 2_000  # the mark is drawn across the plot, not a pixel or two
