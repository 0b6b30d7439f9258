"""The /history chart: a real PNG of the promised size, P50/P90 lines that agree with the percentile."""

from __future__ import annotations

import io
import struct
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from jobs.engine.spread import compute_history, wide_closes
from jobs.model.figures import NameBook
from jobs.rendering.charts import HEIGHT_PX, WIDTH_PX, percentile_levels, spread_chart, spread_figure

SW = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synthetic_series(seed: int, days: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spread = pd.Series(25 + np.cumsum(rng.normal(0, 1, days)), index=pd.bdate_range("2020-01-01", periods=days))
    percentile = spread.expanding().rank(method="max") / np.arange(1, days + 1) * 100
    return pd.DataFrame({"spread": spread, "percentile": percentile})


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_png_signature_size_and_it_decodes() -> None:
    series = synthetic_series(1)
    data = spread_chart(series, episodes=[(date(2020, 6, 1), date(2020, 7, 1))], lang="en")
    assert png_size(data) == (WIDTH_PX, HEIGHT_PX)
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        assert img.format == "PNG"
        assert img.size == (WIDTH_PX, HEIGHT_PX)
        # not a blank canvas: the line, the bands and the text leave many distinct colours
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50


def test_different_inputs_give_different_images() -> None:
    base = synthetic_series(1)
    a = spread_chart(base)
    b = spread_chart(synthetic_series(2))
    c = spread_chart(base, episodes=[(date(2020, 3, 2), None)])
    d = spread_chart(base, today=date(2020, 6, 30))
    e = spread_chart(base, view_from=date(2021, 1, 1))
    assert len({a, b, c, d, e}) == 5
    # and the same input draws the same picture, so a cache or a test can rely on it
    assert spread_chart(base) == a


def test_episode_band_is_drawn_where_the_episode_is() -> None:
    """Shaded orange pixels appear only when an episode is given."""
    base = synthetic_series(3)

    def orange_pixels(data: bytes) -> int:
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
        # #f39c12 at alpha 0.25 over white
        target = np.array([253, 230, 196])
        return int((np.abs(rgb - target).sum(axis=2) < 12).sum())

    without = orange_pixels(spread_chart(base))
    with_band = orange_pixels(spread_chart(base, episodes=[(date(2020, 5, 1), date(2020, 9, 30))]))
    assert with_band > without + 10_000


def test_custom_size_and_non_ascii_title_without_cjk_font_falls_back() -> None:
    data = spread_chart(synthetic_series(4), title="行业分化", lang="zh", width_px=800, height_px=500)
    assert png_size(data) == (800, 500)


def test_empty_series_is_refused() -> None:
    with pytest.raises(ValueError):
        spread_chart(pd.DataFrame({"spread": [], "percentile": []}))


def test_levels_by_hand() -> None:
    s = pd.Series([5.0, 1.0, 3.0, 2.0, 4.0], index=pd.bdate_range("2024-01-01", periods=5))
    # day 5 sorted 1,2,3,4,5: P50 needs ceil(2.5)=3rd smallest, P90 ceil(4.5)=5th
    assert percentile_levels(s, 50).tolist() == [5.0, 1.0, 3.0, 2.0, 3.0]
    assert percentile_levels(s, 90).tolist() == [5.0, 5.0, 5.0, 5.0, 5.0]


@pytest.mark.skipif(not SW.exists(), reason="shared data not present")
def test_p90_line_agrees_with_the_stored_percentile_on_real_data() -> None:
    """A day's spread is on or above the P90 line exactly when its percentile is >= 90."""
    long = pd.read_csv(SW, dtype={"code": str})
    frame = compute_history(wide_closes(long), NameBook.constant({})).frame
    for q in (50.0, 90.0):
        level = percentile_levels(frame["spread"], q)
        above = frame["spread"].to_numpy() >= level.to_numpy()
        assert (above == (frame["percentile"].to_numpy() >= q)).all()
    assert png_size(spread_chart(frame, view_from=date(2023, 1, 1))) == (WIDTH_PX, HEIGHT_PX)


def test_the_shipped_cjk_font_has_every_chinese_chart_word() -> None:
    from fontTools.ttLib import TTFont

    from jobs.market.industry_names import CITIC_L1
    from jobs.regimes.regime_chart import LABELS as REGIME_LABELS
    from jobs.rendering.charts import BUNDLED_CJK_FONT, LABELS

    cmap = TTFont(BUNDLED_CJK_FONT).getBestCmap()
    words = [*LABELS["zh"].values(), *REGIME_LABELS["zh"].values(), *CITIC_L1.values()]
    text = "".join(words) + "0123456789.−-P"  # tick labels: matplotlib's minus is U+2212
    missing = sorted({ch for ch in text if ord(ch) not in cmap and not ch.isspace()})
    assert not missing, f"rebuild the subset (tools/subset_cjk_font.py): {missing}"


def test_chinese_charts_are_drawn_in_chinese_with_the_shipped_font() -> None:
    import warnings

    from jobs.rendering.charts import LABELS, cjk_font

    assert cjk_font() == "Spreadwatch Sans SC Subset"
    series = synthetic_series(5)
    below_zero = series.assign(spread=series["spread"] - 40)  # negative ticks use U+2212
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spread_figure(below_zero, lang="zh")
        fig = spread_figure(series, lang="zh")
    assert not [w for w in caught if "missing from font" in str(w.message)]
    ax = fig.axes[0]
    assert ax.get_title() == LABELS["zh"]["title"] and ax.get_ylabel() == LABELS["zh"]["ylabel"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == [LABELS["zh"]["spread"], LABELS["zh"]["p50"], LABELS["zh"]["p90"]]
    assert legend[-1].startswith("最新 ")
    assert spread_chart(series, lang="zh") != spread_chart(series, lang="en")


def test_without_a_cjk_font_chinese_charts_fall_back_to_english_words(tmp_path: Path) -> None:
    from jobs.rendering.charts import LABELS, chart_words, cjk_font

    assert chart_words("zh", None) == LABELS["en"]
    assert chart_words("zh", "Any CJK family") == LABELS["zh"]
    assert chart_words("en", "Any CJK family") == LABELS["en"]
    # no shipped file: whatever is installed, never the subset that is not there
    assert cjk_font(tmp_path / "absent.otf") != "Spreadwatch Sans SC Subset"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("seed", [1, 2, 3, 6, 7])
def test_todays_label_never_covers_the_series(lang: str, seed: int) -> None:
    """The label of today's value (now in the legend) sits where no point of the spread line is."""
    import matplotlib.dates as mdates

    series = synthetic_series(seed)
    fig = spread_figure(series, lang=lang, episodes=[(date(2020, 6, 1), date(2020, 7, 15))])
    ax = fig.axes[0]
    box = ax.get_legend().get_window_extent()
    line = ax.get_lines()[0]
    xs = mdates.date2num(pd.DatetimeIndex(line.get_xdata()))
    points = ax.transData.transform(np.column_stack([xs, np.asarray(line.get_ydata(), dtype=float)]))
    inside = (points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1)
    assert not inside.any(), f"{int(inside.sum())} point(s) of the series under the legend"
    today_text = ax.get_legend().get_texts()[-1].get_text()
    assert f"{float(series['spread'].iloc[-1]):.1f}" in today_text


def test_with_no_free_corner_the_legend_goes_above_the_axes() -> None:
    idx = pd.bdate_range("2020-01-01", periods=300)
    busy = pd.DataFrame({"spread": np.where(np.arange(300) % 2 == 0, 10.0, 60.0), "percentile": 50.0}, index=idx)
    fig = spread_figure(busy, lang="zh")
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert legend_box.y0 >= ax.get_window_extent(renderer).y1  # above the plotting area
    assert ax.title.get_window_extent(renderer).y0 >= legend_box.y1 - 1  # and under the title


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_regime_chart_speaks_the_readers_language(lang: str) -> None:
    import warnings

    from support.regime_template_contexts import report

    from jobs.regimes.history import HistoryDay, RegimeHistory
    from jobs.regimes.regime_chart import regime_history_chart

    r = report()
    days = tuple(
        HistoryDay(date(2025, 1, 2) + pd.Timedelta(days=i), 50.0 + i, 90.0, (*r.scenarios, r.composite))
        for i in range(30)
    )
    history = RegimeHistory(days)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = regime_history_chart(history, lang=lang)
    assert not [w for w in caught if "missing from font" in str(w.message)]
    other = regime_history_chart(history, lang="en" if lang == "zh" else "zh")
    assert png != other  # the words differ, nothing else
    assert png_size(png) == (1200, 900)
