"""/regime history through the real bot and the fake Bot API: a chart of every stored day's scenarios."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

from support.bot_harness import SOURCE, BotHarness, bot, db, filled_db  # noqa: F401  (fixtures)
from test_charts import png_size

from jobs.regimes.history import build_history
from jobs.regimes.regime_chart import HEIGHT_PX, WIDTH_PX
from jobs.store.datastore import Store


def test_regime_history_sends_the_chart(bot: BotHarness) -> None:
    assert bot.services is not None
    (photo,) = bot.ask("/regime history", chat_id=701, language_code="en", timeout=60)
    assert photo.method == "sendPhoto"
    assert png_size(photo.files["photo"].data) == (WIDTH_PX, HEIGHT_PX)
    history = build_history(Store(bot.db), bot.services.settings, SOURCE)
    caption = photo.params["caption"]
    assert f"Regime scenarios {history.first} → {history.last}" in caption
    on = {s["scenario"]: s["on"] for s in history.stats()}
    assert f"reversal on {on['reversal']} d" in caption and f"composite on {on['composite']} d" in caption
    # the plain /regime still answers with the stored report, and points to the chart
    (text,) = bot.ask("/regime", chat_id=701, language_code="en")
    assert "/regime history" in text.params["text"]
    (zh,) = bot.ask("/regime history", chat_id=702, language_code="zh", timeout=60)
    assert zh.method == "sendPhoto" and "情景历史" in zh.params["caption"]


def test_backtest_names_the_scenarios_of_each_episode(bot: BotHarness) -> None:
    from jobs.engine.backtest import load_backtest
    from jobs.engine.rules import params_from_settings
    from jobs.regimes.episodes import with_regimes

    assert bot.services is not None
    (call,) = bot.ask("/backtest", chat_id=703, language_code="en", timeout=60)
    text = call.params["text"]
    settings = bot.services.settings
    store = Store(bot.db)
    result = load_backtest(store, SOURCE, params_from_settings(settings.alerts), settings.metric.history_start)
    result = with_regimes(result, build_history(store, settings, SOURCE))
    assert result.regimes is not None
    on = result.regimes.composite_on
    assert f"Composite on at firing: spread lower 3 months later in <b>{on.hits} of {on.evaluated}</b>" in text
    assert text.count("scenarios on before it resolved:") == min(5, len(result.episodes))
