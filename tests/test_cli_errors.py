"""A store or an output file that cannot be used: one line naming the file and what to do, exit 4, no traceback.

The commands run as separate processes, so that whatever reaches the operator's terminal (logging
included) is what the test reads.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
from support.cli_support import one_line_no_traceback, read_only, spreadwatch, write_config

from bot.cli.cli_common import ExitCode
from jobs.store.datastore import Store

FILE = int(ExitCode.FILE)


@pytest.fixture
def good_store(tmp_path: Path) -> Path:
    path = tmp_path / "store" / "spreadwatch.db"
    Store(path).close()
    return path


def config_for(tmp_path: Path, db: Path) -> Path:
    return write_config(tmp_path / "config.yaml", storage={"path": str(db)})


def test_an_uncreatable_storage_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be\n", encoding="utf-8")
    db = blocker / "sub" / "spreadwatch.db"
    run = spreadwatch("report", "--config", str(config_for(tmp_path, db)), cwd=tmp_path)
    assert run.code == FILE
    line = one_line_no_traceback(run.err)
    assert line.startswith(f"cannot create the store's folder {blocker / 'sub'} (")
    assert "set storage.path to a writable place" in line


def test_an_unwritable_storage_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    config = config_for(tmp_path, folder / "spreadwatch.db")
    with read_only(folder):
        run = spreadwatch("report", "--config", str(config), cwd=tmp_path)
        check = spreadwatch("check-config", "--config", str(config), cwd=tmp_path)
    assert run.code == FILE
    line = one_line_no_traceback(run.err)
    assert line.startswith(f"cannot open the store {folder / 'spreadwatch.db'} (unable to open database file)")
    assert "check that its folder exists and is writable" in line
    assert check.code == FILE
    assert one_line_no_traceback(check.err) == (
        f"cannot create the store {folder / 'spreadwatch.db'}: {folder} is not a writable folder; "
        "create the folder, or set storage.path to a writable place"
    )


def test_a_read_only_database(tmp_path: Path, good_store: Path) -> None:
    config = config_for(tmp_path, good_store)
    with read_only(good_store):
        run = spreadwatch("report", "--config", str(config), cwd=tmp_path)
    assert run.code == FILE
    assert one_line_no_traceback(run.err) == (
        f"the store {good_store} is read-only (attempt to write a readonly database): "
        "make the file and its folder writable"
    )
    assert run.out == ""  # refused at open, before anything was fetched or shown


def corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[page : 2 * page] = b"\xa5" * page  # the root page of the first table: garbage
    path.write_bytes(bytes(data))


def test_a_damaged_database_is_refused_at_start(tmp_path: Path, good_store: Path) -> None:
    conn = sqlite3.connect(good_store)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    corrupt(good_store)
    config = config_for(tmp_path, good_store)
    for command in ("report", "run-daily", "backtest", "regime", "export", "check-config"):
        run = spreadwatch(command, "--config", str(config), cwd=tmp_path)
        assert run.code == FILE, (command, run.err)
        line = one_line_no_traceback(run.err)
        assert line.startswith(f"the store {good_store} is damaged (database disk image is malformed"), command
        assert "restore it from a backup" in line
        assert "Nothing to show" not in run.out and "NOT SENT" not in run.out  # not half-served


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    db = tmp_path / "spreadwatch.db"
    db.write_bytes(b"this is not SQLite\n" * 500)
    run = spreadwatch("backfill", "--config", str(config_for(tmp_path, db)), cwd=tmp_path)
    assert run.code == FILE
    line = one_line_no_traceback(run.err)
    assert line.startswith(f"the store {db} is damaged (file is not a database)")
    assert db.read_bytes() == b"this is not SQLite\n" * 500  # left as it was


def test_another_programs_sqlite_database_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO foo (name) VALUES ('keep me')")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    for command in (("report", "--db", str(other)), ("check-config", "--config", str(config_for(tmp_path, other)))):
        run = spreadwatch(*command, cwd=tmp_path)
        assert run.code == FILE, (command, run.err)
        line = one_line_no_traceback(run.err)
        assert line.startswith(f"{other} is not a spreadwatch store: it holds other tables (foo)"), line
        assert other.read_bytes() == before  # no schema added, not switched to WAL
        assert not Path(f"{other}-wal").exists()


def test_an_empty_database_file_is_not_rebuilt_silently(tmp_path: Path) -> None:
    db = tmp_path / "spreadwatch.db"
    db.touch()
    an_hour_ago = time.time() - 3600  # a store truncated some time ago, not one being created right now
    os.utime(db, (an_hour_ago, an_hour_ago))
    config = config_for(tmp_path, db)
    check = spreadwatch("check-config", "--config", str(config), cwd=tmp_path)
    assert check.code == FILE
    assert "is an empty file (0 bytes): if it held subscribers, restore it from a backup" in check.err
    run = spreadwatch("backfill", "--config", str(config), cwd=tmp_path)
    assert run.code == 0
    warning = one_line_no_traceback(run.err)
    assert f"the store {db} is an empty file (0 bytes): starting a new, empty store in it" in warning
    assert "if it held subscribers, stop now and restore it from a backup" in warning
    again = spreadwatch("backfill", "--config", str(config), cwd=tmp_path)
    assert again.code == 0 and again.err == ""  # said once: the file is a store now


@pytest.mark.parametrize("option", ["--png", "--csv"])
def test_backtest_output_to_a_missing_folder_or_onto_a_folder(tmp_path: Path, option: str) -> None:
    db = tmp_path / "bt.db"
    config = config_for(tmp_path, db)
    missing = tmp_path / "no" / "such" / "out.file"
    run = spreadwatch("backtest", "--config", str(config), option, str(missing), cwd=tmp_path)
    assert run.code == FILE
    assert one_line_no_traceback(run.err) == (
        f"the folder {missing.parent} does not exist: create it first, or write elsewhere"
    )
    run = spreadwatch("backtest", "--config", str(config), option, str(tmp_path), cwd=tmp_path)
    assert run.code == FILE
    assert one_line_no_traceback(run.err) == f"{tmp_path} is a folder: give a file name, e.g. {tmp_path / 'out'}"
    assert not db.exists()  # refused before any work


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    """`spreadwatch report | head -1`: the pipe closes before everything is printed."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "bot.cli", "report", "--db", str(tmp_path / "s.db")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away after one line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and "Traceback" not in err and "BrokenPipe" not in err, err
