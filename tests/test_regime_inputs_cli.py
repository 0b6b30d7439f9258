"""Regime inputs from the shared files through the CLI: check-config, ``regime --as-of``, ``regime --history``."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support.bot_harness import filled_db  # noqa: F401

from bot.cli.main import main
from jobs.config.settings import load_settings
from jobs.regimes.file_inputs import InputFileError, load_file_inputs, parse_panel, parse_pmi
from jobs.regimes.history import build_history
from jobs.regimes.service import evaluate_regimes
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW, PMI, AMOUNT = DATA / "sw_l1_daily.csv", DATA / "cn_pmi_monthly.csv", DATA / "sw_l1_amount_daily.csv"
pytestmark = pytest.mark.skipif(not (SW.exists() and PMI.exists() and AMOUNT.exists()), reason="shared data absent")


def config(tmp_path: Path, db: Path, **inputs: str) -> Path:
    raw = {
        "data": {"source": f"csv:{SW}"},
        "storage": {"path": str(db)},
        "regimes": {"inputs": inputs or {"pmi": f"csv:{PMI}", "amount": f"csv:{AMOUNT}"}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def store_copy(filled_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "r.db"
    shutil.copyfile(filled_db, db)
    return db


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_regime_as_of_uses_the_files(store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, store_copy)
    code, out, _ = run(capsys, "regime", "--config", str(cfg), "--as-of", "2025-02-14", "--json", "--no-refresh")
    assert code == 0
    data = json.loads(out)
    by = {s["scenario"]: s for s in data["scenarios"]}
    macro, heat = by["macro"], by["heat"]
    # January 2025: 49.1 after 50.1, known from 2025-02-01 (no release_date column): macro on
    assert macro["state"] == "on" and macro["code"] == "pmi_below_line"
    ev = {e["key"]: e for e in macro["evidence"]}
    assert ev["pmi"]["value"] == 49.1 and ev["pmi"]["on"] == "2025-01" and ev["pmi_prev"]["value"] == 50.1
    assert ev["pmi_source"]["value"] == "cn_pmi_monthly.csv"
    assert macro["inputs"][0]["last_date"] == "2025-02-01"
    # heat from the turnover file: the five leaders' 20-day share, ranked against its own history
    assert heat["state"] != "unknown"
    hev = {e["key"]: e for e in heat["evidence"]}
    assert hev["share_source"]["value"] == "sw_l1_amount_daily.csv"
    assert hev["share"]["label"] == "计算机, 传媒, 综合, 电子, 商贸零售"
    assert hev["share_pctl"]["value"] >= 90 and heat["state"] == "on"
    assert data["composite"]["state"] == "on"


def test_history_ends_where_regime_as_of_answers(
    store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, store_copy)
    csv_path, png_path = tmp_path / "h.csv", tmp_path / "h.png"
    common = ["regime", "--config", str(cfg), "--no-refresh"]
    code, out, _ = run(
        capsys, *common, "--history", "--from", "2025-01-02", "--to", "2025-02-14", "--json",
        "--csv", str(csv_path), "--png", str(png_path),
    )  # fmt: skip
    assert code == 0
    hist = json.loads(out)
    assert hist["from"] == "2025-01-02" and hist["to"] == "2025-02-14"
    last = hist["days"][-1]
    code, out, _ = run(capsys, *common, "--as-of", "2025-02-14", "--json")
    live = json.loads(out)
    for s in [*live["scenarios"], live["composite"]]:
        assert last[s["scenario"]] == {"state": s["state"], "code": s["code"]}, s["scenario"]
    assert csv_path.read_text(encoding="utf-8-sig").splitlines()[-1].startswith("2025-02-14,")
    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # every day of the window, in full (evidence, inputs), equals the live evaluation of that day
    settings, _ = load_settings(cfg)
    store = Store(store_copy)
    source = settings.data.source
    files = load_file_inputs(settings.regimes.inputs)
    history = build_history(store, settings, source, date(2025, 1, 2), date(2025, 2, 14), files)
    for day in history.days[::5] + history.days[-1:]:
        report = evaluate_regimes(store, settings, source, day.day, files)
        assert [r.to_json(day.day) for r in day.results] == [r.to_json(day.day) for r in report.all], day.day


def test_history_says_what_the_turnover_file_lacks(
    store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, store_copy)
    args = ["regime", "--config", str(cfg), "--no-refresh", "--history", "--lang", "en"]
    code, out, _ = run(capsys, *args, "--from", "2016-01-04", "--to", "2016-03-31")
    assert code == 0
    assert "sw_l1_amount_daily.csv has no rows 2014-02-21 .. 2021-12-12" in out
    code, out, _ = run(capsys, *args, "--from", "2016-01-04", "--to", "2016-03-31", "--json")
    days = json.loads(out)["days"]
    # inside the hole heat is unknown (stale since 2014, or no turnover ever for a leader), never interpolated
    assert {d["heat"]["state"] for d in days} == {"unknown"}
    assert "stale" in {d["heat"]["code"] for d in days} <= {"stale", "no_data"}


def test_bad_arguments_and_files_get_one_line_and_exit_2(
    store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, store_copy)
    code, _, err = run(capsys, "regime", "--config", str(cfg), "--no-refresh", "--csv", str(tmp_path / "x.csv"))
    assert code == 2 and err.strip() == "--csv need(s) --history"
    code, _, err = run(capsys, "regime", "--config", str(cfg), "--no-refresh", "--history", "--as-of", "2025-02-14")
    assert code == 2 and "--as-of and --history" in err
    code, _, err = run(capsys, "regime", "--config", str(cfg), "--no-refresh", "--history", "--from", "2030-01-01")
    assert code == 2 and "no stored trading day between 2030-01-01" in err

    bad = tmp_path / "pmi.csv"
    bad.write_text("month,value\n2025-01,49.1\n", encoding="utf-8")
    cfg = config(tmp_path, store_copy, pmi=f"csv:{bad}")
    for args in (("check-config",), ("regime", "--no-refresh")):
        code, _, err = run(capsys, *args, "--config", str(cfg))
        assert code == 2
        expected = f"CSV file {bad} lacks column(s) pmi; expected month,pmi[,release_date]"
        assert err.strip() == f"config error: regimes.inputs.pmi: {expected}"


def test_check_config_describes_the_files(store_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, store_copy)
    code, out, _ = run(capsys, "check-config", "--config", str(cfg))
    assert code == 0
    assert (
        f"regimes.inputs.pmi: {PMI} (2008-01 .. 2026-04, 220 months; known from the 1st of the following month)" in out
    )
    assert "no rows 2014-02-21 .. 2021-12-12" in out


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("month,pmi\n2025-13,49.1\n", "unreadable month(s) '2025-13'; expected YYYY-MM"),
        ("month,pmi\n2025-01,49.1\n2025-01,49.2\n", "duplicate month(s) '2025-01'"),
        ("month,pmi\n2025-01,abc\n", "PMI not a number in 20-80: 2025-01: 'abc'"),
        ("month,pmi,release_date\n2025-01,49.1,2024-12-31\n", "2025-01: release_date 2024-12-31 before the month"),
        ("month,pmi,release_date\n2025-01,49.1,soon\n", "2025-01: unreadable release_date 'soon'"),
    ],
)
def test_pmi_file_problems_name_the_key_and_file(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "pmi.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        parse_pmi("regimes.inputs.pmi", path)
    message = str(err.value)
    assert message.startswith(f"regimes.inputs.pmi: CSV file {path}: ") and problem in message
    assert "\n" not in message


def test_pmi_release_dates_are_used_when_given(tmp_path: Path) -> None:
    path = tmp_path / "pmi.csv"
    path.write_text("month,pmi,release_date\n2025-01,49.1,2025-01-27\n2025-02,50.2,2025-02-28\n", encoding="utf-8")
    f = parse_pmi("regimes.inputs.pmi", path)
    assert f.known_from == {date(2025, 1, 1): date(2025, 1, 27), date(2025, 2, 1): date(2025, 2, 28)}


@pytest.mark.parametrize(
    ("column", "text", "problem"),
    [
        ("amount", "date,code,name,amount\n2025-01-02,801010,a,-3\n", "turnover is not a positive number: 801010 on"),
        ("amount", "date,code,name,amount\n2025-02-30,801010,a,3\n", "unreadable date(s) '2025-02-30'"),
        ("pe", "date,code,name,pe\n2025-01-02,801010,a,1\n2025-01-02,801010,a,2\n", "duplicate date(s): 801010 on"),
        ("pe", "date,code,name\n2025-01-02,801010,a\n", "lacks column(s) pe; expected date,code,name,pe"),
    ],
)
def test_panel_file_problems(tmp_path: Path, column: str, text: str, problem: str) -> None:
    path = tmp_path / f"{column}.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        parse_panel(f"regimes.inputs.{column}", path, column)
    assert str(err.value).startswith(f"regimes.inputs.{column}: CSV file {path}") and problem in str(err.value)


def test_input_settings_must_be_csv_paths() -> None:
    from jobs.config.settings import ConfigError, parse_settings

    with pytest.raises(ConfigError) as err:
        parse_settings({"regimes": {"inputs": {"pmi": "akshare"}}})
    assert str(err.value).startswith("config error: regimes.inputs.pmi: expected 'csv:PATH'")


def test_heat_reads_pe_from_a_file_and_says_so(tmp_path: Path) -> None:
    from jobs.config.regime_settings import HeatSettings
    from jobs.regimes.heat import check_heat
    from jobs.regimes.types import State

    top = ["801750", "801760"]
    days = pd.bdate_range("2024-01-01", periods=60)
    rows = [f"{d.date()},{c},n{c},{(20.0 + i * 0.1) if i < 59 else 90.0}" for i, d in enumerate(days) for c in top]
    path = tmp_path / "pe.csv"
    path.write_text("date,code,name,pe\n" + "\n".join(rows) + "\n", encoding="utf-8")
    pe = parse_panel("regimes.inputs.pe", path, "pe")
    params = HeatSettings(smooth_days=1, min_history_days=50)
    r = check_heat(top, params, days[-1].date(), pe_wide=pe.wide, sources={"pe": pe.label})
    assert r.state == State.ON and r.code == "pe_high"
    ev = {e.key: e.value for e in r.evidence}
    assert ev["pe"] == pytest.approx(90.0) and ev["pe_source"] == "pe.csv"
    assert "pe from pe.csv" in r.reason
    # no turnover at all: the share input is missing, the PE alone decides, and the inputs say which is which
    assert [f.name for f in r.inputs] == ["amount", "pe (pe.csv)"]
    # the day before the spike the PE file's last row is not yet known: no look-ahead through the cut
    before = check_heat(top, params, days[-2].date(), pe_wide=pe.wide, sources={"pe": pe.label})
    assert {e.key: e.value for e in before.evidence}["pe"] == pytest.approx(25.8)


def test_a_broken_file_leaves_its_input_missing_in_the_live_evaluation(store_copy: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone.csv"
    settings, _ = load_settings(config(tmp_path, store_copy, pmi=f"csv:{gone}", amount=f"csv:{AMOUNT}"))
    report = evaluate_regimes(Store(store_copy), settings, settings.data.source, date(2025, 2, 14))
    macro, heat = report.scenarios[0], report.scenarios[1]
    assert macro.state.value == "unknown" and macro.code == "no_data"
    assert macro.inputs[0].error == f"regimes.inputs.pmi: CSV file not found: {gone}"
    assert heat.state.value == "on"  # the turnover file still works
