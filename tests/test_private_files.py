"""The files that hold subscribers' ids and messages are owner-only whatever the umask (the store, its WAL
and lock files, backups, exports), and an output file is neither overwritten nor written through a link
without ``--force``."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from support.cli_support import write_csv

from bot.cli.cli_common import ExitCode
from bot.cli.main import main
from jobs.store.datastore import Store
from jobs.store.service_lock import ServiceLock

END = date(2025, 2, 14)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual default: files readable by every user of the machine
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def source(tmp_path: Path) -> str:
    return f"csv:{write_csv(tmp_path / 'own.csv', date(2023, 1, 2), END)}"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def assert_owner_only(*paths: Path) -> None:
    for path in paths:
        assert path.exists(), path
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"


def test_the_store_its_wal_and_its_lock_files_are_owner_only(tmp_path: Path, umask_022: None, source: str) -> None:
    db = tmp_path / "data" / "spreadwatch.db"
    assert main(["backfill", "--source", source, "--db", str(db)]) == 0
    store = Store(db)
    lock = ServiceLock(db)
    lock.acquire()
    try:
        store.set_meta("probe", "1")  # a write: the -wal and -shm files are there while the store is open
        side = [Path(f"{db}-wal"), Path(f"{db}-shm")]
        assert_owner_only(db, *side, *db.parent.glob("*-lock"))
        assert len(list(db.parent.glob("*-lock"))) >= 2  # the refresh lock and the service lock
    finally:
        lock.release()
        store.close()
    assert mode(db.parent) & 0o077 == 0  # the folder the store command created

    backup = tmp_path / "spreadwatch.backup"
    assert main(["backup", "--db", str(db), str(backup)]) == 0
    assert_owner_only(backup)
    restored = tmp_path / "elsewhere" / "restored.db"
    assert main(["restore", "--db", str(restored), str(backup)]) == 0
    assert_owner_only(restored)


def test_exports_are_owner_only(tmp_path: Path, umask_022: None, source: str) -> None:
    db = tmp_path / "s.db"
    history, episodes, chart = tmp_path / "history.csv", tmp_path / "episodes.csv", tmp_path / "chart.png"
    assert main(["export", "--source", source, "--db", str(db), "--csv", str(history)]) == 0
    assert main(["backtest", "--source", source, "--db", str(db), "--csv", str(episodes), "--png", str(chart)]) == 0
    assert_owner_only(history, episodes, chart)
    assert chart.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("command", ["export", "backtest-csv", "backtest-png"])
def test_an_existing_file_or_a_link_is_written_only_with_force(
    tmp_path: Path, source: str, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    assert main(["backfill", "--source", source, "--db", str(db)]) == 0

    def run(target: Path, *extra: str) -> int:
        if command == "export":
            args = ["export", "--csv", str(target)]
        else:
            args = ["backtest", f"--{command.split('-')[1]}", str(target)]
        return main([*args, "--source", source, "--db", str(db), *extra])

    existing = tmp_path / "existing.out"
    existing.write_text("keep me", encoding="utf-8")
    assert run(existing) == ExitCode.CONFIG
    assert "exists: pass --force to overwrite it" in capsys.readouterr().err
    assert existing.read_text(encoding="utf-8") == "keep me"

    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file", encoding="utf-8")
    link = tmp_path / "link.out"
    link.symlink_to(victim)
    assert run(link) == ExitCode.CONFIG
    assert "symbolic link: pass --force" in capsys.readouterr().err
    assert victim.read_text(encoding="utf-8") == "someone else's file"
    dangling = tmp_path / "dangling.out"
    dangling.symlink_to(tmp_path / "nowhere")
    assert run(dangling) == ExitCode.CONFIG
    assert not (tmp_path / "nowhere").exists()

    assert run(existing, "--force") == 0
    assert existing.read_text(encoding="latin-1") != "keep me"
