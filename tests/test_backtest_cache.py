"""The bot's backtest cache answers again only while nothing it depends on has changed: a new regime
input file, an edited one, or a policy event recorded since gives a fresh backtest."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pytest
from support.bot_harness import SOURCE, db, filled_db  # noqa: F401

from bot.telegram.bot_data import BacktestCache
from jobs.alerting.services import Services
from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.regimes.repo import RegimeRepo
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store

PMI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cn_pmi_monthly.csv"


def _services(db: Path, pmi: Path) -> Services:
    settings = parse_settings(
        {"data": {"source": SOURCE}, "storage": {"path": str(db)}, "regimes": {"inputs": {"pmi": f"csv:{pmi}"}}}
    )
    store = Store(db)
    return Services(settings=settings, store=store, engine=Engine(settings, store), chats=ChatRepo(store))


def test_a_changed_regime_input_gives_a_fresh_backtest(db: Path, tmp_path: Path) -> None:
    if not PMI.exists():
        pytest.skip("shared data not present")
    pmi = tmp_path / "pmi.csv"
    shutil.copyfile(PMI, pmi)
    services = _services(db, pmi)
    cache = BacktestCache()
    first = cache.get(services, SOURCE)
    assert cache.get(services, SOURCE) is first  # nothing changed: the cached result

    # the operator's PMI file loses its months after 2019: the macro scenario reads another history
    lines = pmi.read_text(encoding="utf-8").splitlines()
    pmi.write_text("\n".join(line for line in lines if line[:4] <= "2019" or not line[0].isdigit()) + "\n")
    os.utime(pmi, ns=(1, 1))  # a different stamp even on a file system with coarse times
    second = cache.get(services, SOURCE)
    assert second is not first
    assert second.regimes == BacktestCache().get(services, SOURCE).regimes != first.regimes

    RegimeRepo(services.store).add_event(date(2024, 9, 24), "policy stimulus", "admin")
    assert cache.get(services, SOURCE) is not second
