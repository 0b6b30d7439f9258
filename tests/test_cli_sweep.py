"""The error sweep: every subcommand, run as its own process, against a table of bad inputs.

Each bad input must end the command with its exit code from the README's one table and exactly one
line on stderr naming the thing that is wrong, never a traceback. The commands are found in the
parser (``bot.cli.main.build_parser``) and the bad inputs derived from each command's options:

* ``--config``: a missing file, a folder, a name too long, not YAML, a bad value, and a
  ``data.calendar_file`` that is missing, empty, not dates or a folder -> 2 (bad configuration);
* ``--db``: a folder, a name too long, a folder that cannot be created -> 4 (a file cannot be used);
* ``--source``: a ``csv:`` file that is a folder or whose name is too long -> 2;
* every date option: a date that does not exist -> 2; ``--as-of`` in the future -> 2; ``--from``
  after ``--to`` -> 2;
* every file the command writes (argparse type ``output_file``): a missing folder, a folder, a name too
  long -> 4; every file it reads (``input_file``): missing, a folder, a name too long, not the kind of
  file it expects -> 2;
* and for every command an option it does not know -> 2.

So a new subcommand is swept as soon as it is in the parser. The invocations run in parallel, each in
a process of its own forked from one that has imported the command line once
(``tests/support/fork_runner.py``): the imports, not the work, are what a cold start costs. Ctrl-C is
swept apart (``test_sigint_*``): it needs a command with work in progress.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.cli_support import REPO, far_calendar, one_line_no_traceback, write_config, write_csv

from bot.cli.cli_common import ExitCode, add_common_options, date_arg, input_file, output_file
from bot.cli.main import build_parser, subcommands
from jobs.store.datastore import Store

CONFIG, FILE = int(ExitCode.CONFIG), int(ExitCode.FILE)
LONG = "x" * 300  # one name longer than any common file system allows (255 bytes)
FUTURE = "2099-01-01"
END = date(2025, 2, 14)
# options that act only together with another one: what to add so that the option is checked at all
COMPANIONS = {("regime", "--csv"): ("--history",), ("regime", "--png"): ("--history",)}
TOKEN_ENV = "SW_SWEEP_TOKEN"


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    names: tuple[str, ...]  # what the one line on stderr must contain: the thing that is wrong


@dataclass(frozen=True)
class World:
    """A working installation in a folder; each case spoils one thing of it."""

    root: Path
    config: Path
    store: Path
    backup: Path  # a good backup: what restore reads

    def bad_configs(self) -> list[tuple[str, Path, tuple[str, ...]]]:
        r = self.root
        return [
            ("missing", r / "absent.yaml", (str(r / "absent.yaml"),)),
            ("folder", r, (str(r), "is a folder")),
            ("too-long", r / f"{LONG}.yaml", ("File name too long",)),
            ("not-yaml", r / "bad" / "not-yaml.yaml", ("not valid YAML",)),
            ("bad-value", r / "bad" / "bad-value.yaml", ("data.max_daily_move",)),
            *((f"calendar-{k}", r / "bad" / f"calendar-{k}.yaml", ("data.calendar_file",)) for k in CALENDARS),
        ]

    def bad_stores(self) -> list[tuple[str, str, tuple[str, ...]]]:
        r = self.root
        return [
            ("folder", str(r / "a-folder"), (str(r / "a-folder"),)),
            ("too-long", str(r / f"{LONG}.db"), ("file name too long",)),
            ("under-a-file", str(r / "a-file" / "sub" / "s.db"), (str(r / "a-file"),)),
        ]

    def bad_sources(self) -> list[tuple[str, str, tuple[str, ...]]]:
        r = self.root
        return [
            ("folder", f"csv:{r / 'a-folder'}", ("data.source", "is a folder")),
            ("too-long", f"csv:{r / f'{LONG}.csv'}", ("data.source", "file name too long")),
        ]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
        # `run` checks the token first: with one, it goes on to the checks the sweep is about (and would
        # reach only a closed port, telegram.base_url, if it ever got past them)
        return {**env, "PYTHONPATH": str(REPO), TOKEN_ENV: "123456:sweep-not-a-token"}


# data.calendar_file variants: file content, or None for a folder
CALENDARS: dict[str, str | None] = {"missing": "", "empty": "", "not-dates": "2025-02-13\nfriday\n", "folder": None}


def good_settings(root: Path) -> dict[str, Any]:
    return {
        "lang": "en",
        "data": {"source": f"csv:{root / 'prices.csv'}", "calendar_file": str(root / "calendar.txt")},
        "storage": {"path": str(root / "store.db")},
        "telegram": {"token_env": TOKEN_ENV, "base_url": "http://127.0.0.1:9/bot"},
        "notify": {"destinations": [{"name": "desk", "url": "json://127.0.0.1:9/"}]},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("sweep")
    write_csv(root / "prices.csv", date(2024, 1, 2), END)
    far_calendar(root / "calendar.txt")
    settings = good_settings(root)
    config = write_config(root / "config.yaml", **settings)
    for name in ("store.db", "backup.db"):
        Store(root / name).close()
    (root / "a-folder").mkdir()
    (root / "a-file").write_text("a file where a folder should be\n", encoding="utf-8")
    (root / "out").mkdir()
    (root / "notes.txt").write_text("not a spreadwatch store\n" * 50, encoding="utf-8")
    bad = root / "bad"
    bad.mkdir()
    (bad / "not-yaml.yaml").write_text("data: [unclosed\n", encoding="utf-8")
    write_config(bad / "bad-value.yaml", **{**settings, "data": {**settings["data"], "max_daily_move": 7}})
    for kind, content in CALENDARS.items():
        calendar = bad / f"calendar-{kind}.txt"
        if content is None:
            calendar.mkdir()
        elif kind != "missing":
            calendar.write_text(content, encoding="utf-8")
        data = {**settings["data"], "calendar_file": str(calendar)}
        write_config(bad / f"calendar-{kind}.yaml", **{**settings, "data": data})
    return World(root, config, root / "store.db", root / "backup.db")


def good_value(action: argparse.Action, world: World, command: str) -> str:
    """A value that works for an argument the command requires."""
    if action.type is output_file:
        return str(world.root / "out" / f"{command}.out")
    if action.type is input_file:
        return str(world.backup)
    if action.metavar == "STORE":
        return f"sqlite:{world.root / 'other.db'}"
    if action.metavar == "NAME":
        return "desk"  # the destination of the good configuration
    return "x"


def base_argv(command: str, parser: argparse.ArgumentParser, world: World, **override: str) -> list[str]:
    """The command with every argument it requires (good values, or ``override`` by destination)."""
    argv = [command]
    if any("--config" in a.option_strings for a in parser._actions):
        argv += ["--config", override.pop("config", str(world.config))]
    for action in parser._actions:
        if action.option_strings and not action.required:
            continue
        if isinstance(action, argparse._HelpAction):
            continue
        value = override.get(action.dest, good_value(action, world, command))
        argv += [*action.option_strings[:1], value]
    return argv


def cases_for(command: str, parser: argparse.ArgumentParser, world: World) -> Iterator[Case]:
    base = base_argv(command, parser, world)
    flags = {flag for action in parser._actions for flag in action.option_strings}

    def case(label: str, argv: list[str], code: int, *names: str) -> Case:
        return Case(f"{command}: {label}", tuple(argv), code, names)

    yield case("an unknown option", [*base, "--no-such-option"], CONFIG, "--no-such-option")
    if "--config" in flags:
        for label, path, names in world.bad_configs():
            yield case(f"--config {label}", base_argv(command, parser, world, config=str(path)), CONFIG, *names)
    if "--db" in flags:
        for label, value, names in world.bad_stores():
            yield case(f"--db {label}", [*base, "--db", value], FILE, *names)
    if "--source" in flags:
        for label, value, names in world.bad_sources():
            yield case(f"--source {label}", [*base, "--source", value], CONFIG, *names)
    dates = {flag for action in parser._actions if action.type is date_arg for flag in action.option_strings}
    for flag in sorted(dates):
        yield case(f"{flag} not a date", [*base, flag, "2025-02-30"], CONFIG, flag, "2025-02-30")
    if "--as-of" in dates:
        yield case("--as-of in the future", [*base, "--as-of", FUTURE], CONFIG, f"--as-of {FUTURE} is in the future")
    if {"--from", "--to"} <= dates:
        argv = [*base, "--from", "2025-01-01", "--to", "2024-01-01"]
        yield case("--from after --to", argv, CONFIG, "--from 2025-01-01 is after --to 2024-01-01")
    for action in parser._actions:
        if action.type in (output_file, input_file):
            yield from file_cases(command, parser, world, action)


def file_cases(command: str, parser: argparse.ArgumentParser, world: World, action: argparse.Action) -> Iterator[Case]:
    """A file the command writes (``output_file``) or reads (``input_file``), named by an option or a
    positional argument."""
    flag = action.option_strings[0] if action.option_strings else None
    label = flag or str(action.metavar)
    extra = COMPANIONS.get((command, flag or ""), ())

    def case(what: str, value: str, code: int, *names: str) -> Case:
        if flag is None:  # positional: in place of the good value
            argv = [*base_argv(command, parser, world, **{action.dest: value}), *extra]
        else:
            argv = [*base_argv(command, parser, world), *extra, flag, value]
        return Case(f"{command}: {label} {what}", tuple(argv), code, names)

    r = world.root
    if action.type is output_file:
        missing = r / "no" / "such" / "folder"
        yield case("in a missing folder", str(missing / "f"), FILE, str(missing))
        yield case("a folder", str(r / "a-folder"), FILE, str(r / "a-folder"), "is a folder")
        yield case("too long", str(r / f"{LONG}.out"), FILE, "file name too long")
    else:
        yield case("missing", str(r / "absent.db"), CONFIG, str(r / "absent.db"))
        yield case("a folder", str(r / "a-folder"), CONFIG, str(r / "a-folder"))
        yield case("too long", str(r / f"{LONG}.db"), CONFIG, "File name too long")
        yield case("not the right file", str(r / "notes.txt"), CONFIG, str(r / "notes.txt"))


def sweep_cases(parser: argparse.ArgumentParser, world: World) -> list[Case]:
    return [case for name, sub in subcommands(parser).items() for case in cases_for(name, sub, world)]


def run_forked(cases: list[Case], world: World) -> list[dict[str, Any]]:
    payload = [
        {"id": c.id, "argv": list(c.argv), "cwd": str(world.root), "env": world.env(), "timeout": 60} for c in cases
    ]
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "support" / "fork_runner.py"), "2"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=world.env(),
        timeout=600,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(proc.stdout)
    return results


def test_every_command_refuses_every_bad_input_with_one_line_and_its_exit_code(world: World) -> None:
    parser = build_parser()
    cases = sweep_cases(parser, world)
    assert {c.argv[0] for c in cases} == set(subcommands(parser))  # every subcommand is swept
    failures = []
    for c, result in zip(cases, run_forked(cases, world), strict=True):
        err = result["err"]
        lines = [line for line in err.splitlines() if line.strip()]
        problems = []
        if result["code"] is None:
            problems.append("did not stop within 60 s")
        elif result["code"] != c.code:
            problems.append(f"exit {result['code']}, expected {c.code}")
        if "Traceback" in err:
            problems.append("a traceback")
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr")
        elif missing := [n for n in c.names if n.lower() not in lines[0].lower()]:
            problems.append(f"the line does not name {missing}")
        if problems:
            argv = " ".join(c.argv)[:300]
            failures.append(f"{c.id}: {'; '.join(problems)}\n    argv: {argv}\n    stderr: {err[:600]}")
    assert not failures, f"{len(failures)} of {len(cases)} bad inputs:\n" + "\n".join(failures)


def test_a_new_subcommand_is_swept_without_being_listed(world: World) -> None:
    """The table comes from the parser: a command added to it gets the cases its options call for."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    p = sub.add_parser("fresh-command")
    add_common_options(p)
    p.add_argument("--as-of", type=date_arg)
    p.add_argument("--out", type=output_file)
    p.add_argument("source_file", type=input_file, metavar="PATH")
    labels = {c.id.removeprefix("fresh-command: ") for c in cases_for("fresh-command", p, world)}
    assert {
        "an unknown option",
        "--config calendar-empty",
        "--db too-long",
        "--source folder",
        "--as-of in the future",
        "--out in a missing folder",
        "PATH missing",
    } <= labels
    assert "fresh-command" in subcommands(parser)


def big_csv(path: Path) -> Path:
    """Thirty-one industries from 2009: a backfill with seconds of work to interrupt."""
    return write_csv(path, date(2009, 1, 5), END, industries=31)


def test_sigint_during_backfill_is_one_line_and_exit_130(tmp_path: Path) -> None:
    csv = big_csv(tmp_path / "prices.csv")
    calendar = far_calendar(tmp_path / "calendar.txt")
    data = {"source": f"csv:{csv}", "calendar_file": str(calendar)}
    config = write_config(tmp_path / "config.yaml", data=data, storage={"path": "s.db"})
    db = tmp_path / "s.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "bot.cli", "backfill", "--config", str(config)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not db.exists():  # the store is opened once the imports are done: the work starts now
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the backfill never opened its store"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == ExitCode.INTERRUPTED == 130, (proc.returncode, out, err)
    assert one_line_no_traceback(err) == (
        "spreadwatch backfill: interrupted; what was stored before stays stored: run it again to go on"
    )
    # and so it is: the next backfill finishes the work
    again = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"csv:{csv}: ok - ")
