"""CSV exports re-import to the numbers they came from; the backtest command's files and figures."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from bot.cli.main import main
from jobs.config.settings import parse_settings
from jobs.engine.backtest import load_backtest
from jobs.engine.export import HISTORY_COLUMNS, episodes_csv, history_csv
from jobs.engine.rules import params_from_settings
from jobs.regimes.episodes import with_regimes
from jobs.regimes.history import build_history
from jobs.rendering.charts import HEIGHT_PX, WIDTH_PX
from jobs.store.datastore import Store

SW = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"

pytestmark = pytest.mark.skipif(not SW.exists(), reason="shared data not present")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store filled once by the backtest command itself (it refreshes like `report`)."""
    path = tmp_path_factory.mktemp("export") / "sw.db"
    assert main(["backtest", "--source", f"csv:{SW}", "--db", str(path), "--json"]) == 0
    return path


def source() -> str:
    return f"csv:{SW}"


def test_history_csv_reimports_to_the_stored_numbers(db: Path) -> None:
    store = Store(db)
    snaps = store.snapshots_between(source(), date(2010, 1, 1), date(2030, 1, 1))
    text = history_csv(snaps)
    assert text.startswith("\ufeff")
    back = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), dtype={"top5_codes": str, "bottom5_codes": str})
    assert tuple(back.columns) == HISTORY_COLUMNS
    series = store.spread_series(source())
    assert len(back) == len(series) == len(snaps)
    assert back["date"].tolist() == [d.date().isoformat() for d in series.index]
    # exactly the stored floats, not merely close
    assert back["spread"].tolist() == series["spread"].tolist()
    assert back["percentile"].tolist() == series["percentile"].tolist()
    row = back.set_index("date").loc["2025-02-14"]
    assert row["top5"].split(";") == ["计算机", "传媒", "综合", "电子", "商贸零售"]
    assert row["bottom5"].split(";") == ["煤炭", "公用事业", "石油石化", "农林牧渔", "食品饮料"]
    assert row["top5_codes"].split(";")[0] == "801750"
    assert row["top5_en"].split(";") == ["Computer", "Media", "Comprehensive", "Electronics", "Commerce and Retail"]


def test_backtest_command_json_csv_png(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    csv_path, png_path = tmp_path / "ep.csv", tmp_path / "ep.png"
    args = ["backtest", "--source", source(), "--db", str(db), "--from", "2012-01-01", "--to", "2025-12-31"]
    assert main([*args, "--json", "--csv", str(csv_path), "--png", str(png_path)]) == 0
    data = json.loads(capsys.readouterr().out)

    settings = parse_settings({"data": {"source": source()}})
    expected = load_backtest(
        Store(db), source(), params_from_settings(settings.alerts), date(2012, 1, 1), date(2025, 12, 31)
    )
    # the command adds each episode's regime scenarios, from the history of the same days
    history = build_history(Store(db), settings, source(), date(2012, 1, 1), date(2025, 12, 31))
    expected = with_regimes(expected, history)
    assert data == json.loads(json.dumps({**expected.to_json(), "synthetic": False}))  # a csv of real data
    assert data["episodes"][0]["scenarios"]["at_fire"]["composite"] in ("on", "off", "watch", "unknown")
    assert data["first_day"] >= "2012-01-01" and data["last_day"] <= "2025-12-31"
    assert data["summary"]["episodes"] == len(expected.episodes) > 0

    eps = pd.read_csv(csv_path, encoding="utf-8-sig", dtype={"top5_codes": str, "bottom5_codes": str})
    assert len(eps) == len(expected.episodes)
    assert eps["start"].tolist() == [e.start.isoformat() for e in expected.episodes]
    assert eps["peak_spread"].tolist() == [e.peak_spread for e in expected.episodes]
    got_3m = eps["relative_return_3m"].tolist()
    want_3m = [f.relative_return if (f := e.forward(3)) else None for e in expected.episodes]
    assert [None if pd.isna(x) else x for x in got_3m] == want_3m
    assert episodes_csv(expected) == csv_path.read_text(encoding="utf-8")

    with Image.open(png_path) as img:
        assert img.format == "PNG" and img.size == (WIDTH_PX, HEIGHT_PX)


def test_backtest_command_prints_a_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    args = ["backtest", "--source", source(), "--db", str(db), "--from", "2014-06-01", "--to", "2015-12-31"]
    assert main([*args, "--lang", "en"]) == 0
    out = capsys.readouterr().out
    settings = parse_settings({"data": {"source": source()}})
    expected = load_backtest(
        Store(db), source(), params_from_settings(settings.alerts), date(2014, 6, 1), date(2015, 12, 31)
    )
    assert expected.episodes, "the 2015 bubble should be in this window"
    for e in expected.episodes:
        assert f"{e.start} {e.end or 'open'!s:<10} {e.trading_days:>4}" in out
    n_open = expected.summary.open_episodes
    assert f"Episodes: {len(expected.episodes)} ({n_open} open)" in out


def test_backtest_command_bad_date_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "--from", "2014-13-01"])
    assert exc.value.code == 2


def test_backtest_command_on_an_empty_range(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A range without a stored day is a wrong argument, as for `regime --history`: one line, exit 2."""
    capsys.readouterr()
    assert main(["backtest", "--source", source(), "--db", str(db), "--from", "2030-01-01"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("no stored trading day between 2030-01-01 and ") and len(err.splitlines()) == 1
    assert err.rstrip().endswith("; give --from/--to within it")
