"""The language sweep: every message kind, in both languages, on the Shenwan, CITIC and sample sources.

* Kinds are found in ``templates/`` (a new template is swept without being added here); their contexts
  are the sample contexts of ``tests/support`` with every snapshot, industry, basket and industry
  list replaced by the source's own (snapshots computed from a store of the real data).
* Each text passes ``support.language_checks``: English without CJK, Chinese without English but a
  written-down list, no two lines run together.
* Hostile data (an industry named ``R&D <Tech>``, an event with ``<a href=…>``) goes into every text
  field of every context (top and bottom five, digest lines, evidence, notes, events, errors) and must
  arrive escaped.
* The command line's text outputs: every subcommand with ``--lang`` runs on a small store of each real
  source and prints in that language only.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from support.language_checks import chinese_problems, english_problems, joined_lines
from support.template_contexts import EVIL, SAMPLE_CONTEXTS

from bot.cli.main import build_parser, main
from jobs.config.languages import LANGS
from jobs.config.settings import parse_settings
from jobs.engine.backtest import Basket
from jobs.engine.pipeline import Engine, IncompleteDay
from jobs.model.figures import IndustryGain, Snapshot
from jobs.regimes.types import Evidence
from jobs.rendering.messages import render, template_kinds
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
AS_OF = date(2025, 2, 14)
SOURCES = {"shenwan": DATA / "sw_l1_daily.csv", "citic": DATA / "citic_l1_daily.csv", "sample": None}
KINDS = sorted(set().union(*(template_kinds(lang) for lang in LANGS)))
# what the sample contexts carry that a user typed (an event, a chat's name, a destination's name):
# shown as typed, in either language
TYPED = [EVIL, "desk", "hook"]

pytestmark = pytest.mark.skipif(not SOURCES["citic"].exists(), reason="shared data not present")


def small_csv(path: Path, source: Path) -> Path:
    rows = pd.read_csv(source, dtype={"code": str})
    rows = rows[(rows["date"] >= "2024-01-02") & (rows["date"] <= AS_OF.isoformat())]
    rows.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    """source name -> (data.source, store path): a small store of each source's data up to AS_OF."""
    out = {}
    for name, data in SOURCES.items():
        folder = tmp_path_factory.mktemp(name)
        spec = "sample" if data is None else f"csv:{small_csv(folder / f'{name}.csv', data)}"
        db = folder / "store.db"
        settings = parse_settings({"data": {"source": spec}, "storage": {"path": str(db)}})
        engine = Engine(settings, Store(db))
        assert engine.update(AS_OF).refresh.ok
        out[name] = (spec, db)
    return out


@pytest.fixture(scope="module")
def snapshots(stores: dict[str, tuple[str, Path]]) -> dict[str, Snapshot]:
    out = {}
    for name, (spec, db) in stores.items():
        settings = parse_settings({"data": {"source": spec}, "storage": {"path": str(db)}})
        snap = Store(db).snapshot(Engine(settings, Store(db)).source.name, AS_OF)
        assert snap is not None and snap.as_of == AS_OF
        out[name] = snap
    return out


def hostile_snapshot(snap: Snapshot) -> Snapshot:
    """The snapshot with every industry named ``R&D <Tech> n`` under a code no table knows: English
    readers see the source's names too, so the hostile text reaches every name field in both languages."""
    gains = tuple(IndustryGain(f"X{g.rank:03d}", f"R&D <Tech> {g.rank}", g.gain, g.rank) for g in snap.gains)
    k = snap.k
    return dataclasses.replace(snap, gains=gains, top=gains[:k], bottom=tuple(reversed(gains[-k:])))


HOSTILE = '<a href="https://evil.example/x?a=1&b=2">R&D</a>'
# text fields that carry data (names, labels, events, errors, messages, what a user typed)
TEXT_FIELDS = {
    "name",
    "label",
    "text",
    "author",
    "message",
    "error",
    "last_error",
    "query",
    "description",
    "source_label",
    "path",
    "destination",
    "reason",
}


class Localiser:
    """Puts one source's industries into a sample context, wherever an industry or a list of them is."""

    def __init__(self, snap: Snapshot, hostile: bool = False) -> None:
        self.snap = snap
        self.industries = itertools.cycle(snap.gains)
        self.hostile = hostile

    def names(self, gains: tuple[IndustryGain, ...]) -> str:
        return ", ".join(g.name for g in gains)

    def __call__(self, value: Any, field: str = "") -> Any:
        if isinstance(value, Snapshot):
            return self.snap
        if isinstance(value, IndustryGain):
            g = next(self.industries)
            return dataclasses.replace(value, code=g.code, name=g.name, name_en=g.name_en)
        if isinstance(value, Basket):
            return Basket.from_snapshot(self.snap)
        if isinstance(value, IncompleteDay):
            return dataclasses.replace(value, missing=tuple((g.code, g.name) for g in self.snap.bottom[:2]))
        if isinstance(value, Evidence) and value.key in ("top_return", "share", "pe"):
            return dataclasses.replace(value, label=self.names(self.snap.top))
        if isinstance(value, Evidence) and value.key == "bottom_return":
            return dataclasses.replace(value, label=self.names(self.snap.bottom))
        if isinstance(value, str):
            return HOSTILE if self.hostile and field in TEXT_FIELDS else value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                if not f.init:
                    continue
                if {"code", "name"} <= {x.name for x in dataclasses.fields(value)} and f.name == "name":
                    g = next(self.industries)
                    changes["code"], changes["name"] = g.code, g.name
                    continue
                if f.name == "code" and "name" in {x.name for x in dataclasses.fields(value)}:
                    continue
                changes[f.name] = self(getattr(value, f.name), f.name)
            return dataclasses.replace(value, **changes)
        if isinstance(value, tuple):
            return tuple(self(v, field) for v in value)
        if isinstance(value, list):
            return [self(v, field) for v in value]
        if isinstance(value, dict):
            return {k: self(v, k if isinstance(k, str) else field) for k, v in value.items()}
        return value


def contexts(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """The sample context of ``kind``, and for the regime alerts the one destinations get."""
    build: Callable[[], dict[str, Any]] = SAMPLE_CONTEXTS[kind]
    ctx = build()
    out = [("", ctx)]
    if "bot_commands" in ctx:
        out.append(("destination", {**build(), "bot_commands": False}))
    return out


@pytest.mark.parametrize("source", list(SOURCES))
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_reader_sees_one_language(kind: str, lang: str, source: str, snapshots: dict[str, Snapshot]) -> None:
    for variant, sample in contexts(kind):
        ctx = Localiser(snapshots[source])(sample)
        text = render(kind, lang, **ctx)
        problems = english_problems(text, TYPED) if lang == "en" else chinese_problems(text, TYPED)
        assert not problems, f"{kind} {variant} ({lang}, {source}): {problems}\n{text}"
        joined = joined_lines(kind, lang, **ctx)
        assert not joined, f"{kind} {variant} ({lang}): lines run together: {joined}"
        if variant == "destination":
            assert "/regime" not in text and "/" + kind not in text, text


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_data_arrives_escaped_in_every_field(kind: str, lang: str, snapshots: dict[str, Snapshot]) -> None:
    localise = Localiser(hostile_snapshot(snapshots["shenwan"]), hostile=True)
    for _, sample in contexts(kind):
        text = render(kind, lang, **localise(sample))
        for raw in ("<Tech>", "<a href", "R&D<", "&b=2"):
            assert raw not in text, f"{kind} ({lang}) shows {raw!r} unescaped:\n{text}"


def test_every_name_of_a_snapshot_reaches_the_answers_escaped(snapshots: dict[str, Snapshot]) -> None:
    """The bottom five too: a ``|safe`` on any one name fails here."""
    snap = hostile_snapshot(snapshots["citic"])
    ctx = Localiser(snap, hostile=True)(SAMPLE_CONTEXTS["spread"]())
    for lang in LANGS:
        for kind in ("spread", "top5", "bottom5", "alert_fire", "alert_digest"):
            c = Localiser(snap, hostile=True)(SAMPLE_CONTEXTS[kind]()) if kind != "spread" else ctx
            text = render(kind, lang, **c)
            shown = snap.top if kind != "bottom5" else snap.bottom
            if kind in ("spread", "alert_fire", "alert_digest"):
                shown = snap.top + snap.bottom
            for g in shown:
                assert f"R&amp;D &lt;Tech&gt; {g.rank}" in text, (kind, lang, g.rank)


def text_commands() -> list[str]:
    """The subcommands that print messages in a language: those with ``--lang`` (export writes a CSV
    whose columns hold both languages by design, so only its no-data message is swept)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = []
    for name, p in sub.choices.items():
        if any("--lang" in a.option_strings for a in p._actions):
            out.append(name)
    return sorted(out)


CLI_ARGS = {
    "report": [["--as-of", AS_OF.isoformat()]],
    "regime": [["--as-of", AS_OF.isoformat(), "--no-refresh"], ["--history", "--no-refresh", "--from", "2025-01-02"]],
    "backtest": [["--from", "2024-07-01"]],
}


def test_the_sweep_runs_every_text_command() -> None:
    assert set(text_commands()) - {"export"} <= set(CLI_ARGS), "add the new command's text output to CLI_ARGS"
    assert {"report", "regime", "backtest"} <= set(text_commands())


@pytest.mark.parametrize("source", ["shenwan", "citic"])
@pytest.mark.parametrize("lang", LANGS)
def test_the_command_line_speaks_one_language(
    source: str, lang: str, stores: dict[str, tuple[str, Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    spec, db = stores[source]
    for command in sorted(set(text_commands()) - {"export"}):
        for extra in CLI_ARGS[command]:
            main([command, "--source", spec, "--db", str(db), "--lang", lang, *extra])
            out = capsys.readouterr().out
            assert out.strip(), (command, extra)
            problems = english_problems(out) if lang == "en" else chinese_problems(out, [spec, Path(spec[4:]).name])
            assert not problems, f"{command} {extra} ({lang}, {source}): {problems}\n{out}"


def _dashboard_words() -> dict[str, dict[str, str]]:
    """The dashboard page's own words (its table ``T`` in app.js): key -> text per language."""
    source = (Path(__file__).resolve().parents[1] / "bot" / "web" / "static" / "app.js").read_text(encoding="utf-8")
    table = source[source.index("var T = {") : source.index("var SCENARIOS")]
    words: dict[str, dict[str, str]] = {}
    for lang in ("zh", "en"):
        block = table[table.index(f"{lang}: {{") :]
        block = block[: block.index("\n    }")]
        words[lang] = dict(re.findall(r"(\w+): '((?:[^'\\]|\\.)*)'", block))
    return words


def test_the_dashboards_own_words_are_one_language_each() -> None:
    words = _dashboard_words()
    assert set(words["zh"]) == set(words["en"]) and len(words["zh"]) > 40
    for key, text in words["zh"].items():
        assert not chinese_problems(re.sub(r"\{\w+\}", "1", text)), (key, text)
    for key, text in words["en"].items():
        assert not english_problems(text), (key, text)
    # headings true whatever the sign (the bottom five may have risen)
    assert not any(w in words["zh"][k] for k in ("top5", "bottom5") for w in ("领涨", "领跌"))
