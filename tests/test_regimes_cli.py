"""``spreadwatch regime`` on the real Shenwan CSV: the JSON and the message, stale inputs shown as unknown."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from support.bot_harness import filled_db  # noqa: F401

from bot.cli.main import main
from jobs.regimes.repo import RegimeRepo
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SW, PMI = DATA / "sw_l1_daily.csv", DATA / "cn_pmi_monthly.csv"
pytestmark = pytest.mark.skipif(not (SW.exists() and PMI.exists()), reason="shared data absent")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["regime", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_regime_cli_json_and_text(filled_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(tmp_path / "r.db")
    shutil.copyfile(filled_db, db)
    common = ["--source", f"csv:{SW}", "--db", db]
    code, out, _ = run(capsys, *common, "--as-of", "2025-02-14", "--json")
    assert code == 0
    data = json.loads(out)
    by = {s["scenario"]: s for s in data["scenarios"]}
    assert list(by) == ["macro", "heat", "reversal", "breadth"]
    # nothing fetched for a CSV source: no PMI, no turnover -> unknown, and the composite never on
    assert by["macro"]["state"] == "unknown" and by["macro"]["code"] == "no_data"
    assert by["heat"]["state"] == "unknown"
    assert by["reversal"]["state"] == "off" and by["reversal"]["as_of"] == "2025-02-14"
    assert data["composite"]["state"] == "unknown"
    assert {e["key"]: e["value"] for e in data["composite"]["evidence"]}["spread_pctl"] >= 90

    # with the PMI stored (January 2025: 49.1 after 50.1) macro is on, and so is the composite
    with PMI.open(encoding="utf-8") as f:
        points = [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
    RegimeRepo(Store(db)).save_series("pmi", points)
    code, out, _ = run(capsys, *common, "--as-of", "2025-02-14", "--json", "--no-refresh")
    data = json.loads(out)
    macro = data["scenarios"][0]
    assert macro["state"] == "on" and macro["code"] == "pmi_below_line"
    assert {"key": "pmi", "value": 49.1, "on": "2025-01", "unit": "index", "label": ""} in macro["evidence"]
    assert data["composite"]["state"] == "on"

    # much later, the same stored PMI is stale: unknown (stale since the day after its 45 days, its
    # release day beside it), never on
    code, out, _ = run(capsys, *common, "--as-of", "2026-06-02", "--json", "--no-refresh")
    late = json.loads(out)
    assert late["scenarios"][0]["state"] == "off"  # the file runs to 2026-04, released 04-30: fresh
    code, out, _ = run(capsys, *common, "--as-of", "2026-09-01", "--json", "--no-refresh", "--lang", "en")
    stale = json.loads(out)
    assert stale["scenarios"][0]["state"] == "unknown"
    assert stale["scenarios"][0]["stale_since"] == "2026-06-15"
    assert stale["scenarios"][0]["as_of"] == "2026-04-30"
    assert stale["composite"]["state"] == "unknown"

    code, out, _ = run(capsys, *common, "--as-of", "2026-09-01", "--no-refresh", "--lang", "en")
    assert "Macro: recovery falsified / policy turn: unknown (stale since 2026-06-15; newest data 2026-04-30)" in out


def test_regime_cli_record_stores_states_once(
    filled_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "r.db")
    shutil.copyfile(filled_db, db)  # the real CSV's store, built once per test run
    common = ["--source", f"csv:{SW}", "--db", db]
    code, _, _ = run(capsys, *common, "--as-of", "2025-02-14", "--json", "--no-refresh")
    store = Store(db)
    assert RegimeRepo(store).known_states() == {}
    with PMI.open(encoding="utf-8") as f:
        RegimeRepo(store).save_series(
            "pmi", [(date.fromisoformat(r["month"] + "-01"), float(r["pmi"])) for r in csv.DictReader(f)]
        )
    code, out, _ = run(capsys, *common, "--as-of", "2025-02-14", "--json", "--no-refresh", "--record")
    assert code == 0 and json.loads(out)["composite"]["state"] == "on"
    states = RegimeRepo(store).known_states()
    assert states["composite"].state.value == "on" and states["macro"].since == date(2025, 2, 14)
    run(capsys, *common, "--as-of", "2025-02-14", "--no-refresh", "--record")
    # macro and the composite fired; running the same day again adds nothing
    assert sorted(t[0] for t in RegimeRepo(store).transitions()) == ["composite", "macro"]
