"""`spreadwatch backup` / `restore`: a round trip that compares every table row by row, a backup
taken while a writer commits, and every refusal (one line, the right exit code, the store untouched)."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import hashlib
import sqlite3
import threading
import urllib.error
import urllib.request
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from support.bot_harness import BotHarness, db, filled_db  # noqa: F401

from bot.cli.main import main
from jobs.store.chats import ChatRepo
from jobs.store.datastore import MIGRATIONS, Store
from jobs.store.outbox import Outbox
from jobs.store.service_lock import ServiceLock


@pytest.fixture(autouse=True)
def no_config_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config.yaml: built-in defaults, the store from --db


def tables_of(path: Path) -> dict[str, Any]:
    """Everything a store holds: schema version, every table's definition and its rows (as a multiset)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out: dict[str, Any] = {"user_version": conn.execute("PRAGMA user_version").fetchone()[0]}
        for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            out[name] = (sql, Counter(conn.execute(f'SELECT * FROM "{name}"').fetchall()))
        return out
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def add_activity(path: Path) -> None:
    """Rows in the tables the filled store leaves empty: chats, outbox, meta, the fetch log."""
    store = Store(path)
    chats = ChatRepo(store)
    for chat_id in (11, -12):
        chats.ensure(chat_id, "private" if chat_id > 0 else "group")
        chats.update(chat_id, subscribed=True, lang="en", threshold=85.5)
    with store.transaction() as conn:
        Outbox(store).enqueue(
            conn, rule_id="spread", tier=1, kind="fire", day=date(2026, 6, 2), chat_id=11, parts=["a"]
        )
    store.set_meta("note", "before the backup")
    store.close()


def test_a_backup_restores_to_an_identical_store(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add_activity(db)
    original = tables_of(db)
    assert len(original["prices"][1]) > 100_000 and len(original["outbox"][1]) == 1

    saved = tmp_path / "saved.db"
    code, out, err = run(capsys, "backup", str(saved), "--db", str(db))
    assert (code, err) == (0, "")
    assert out.startswith(f"backup: {db} -> {saved} (schema version {len(MIGRATIONS)}, ")
    assert tables_of(saved) == original
    assert not Path(f"{saved}-wal").exists()  # one self-contained file

    # restored where there was no store ...
    fresh = tmp_path / "elsewhere" / "fresh.db"
    code, out, err = run(capsys, "restore", str(saved), "--db", str(fresh))
    assert (code, err) == (0, "")
    assert tables_of(fresh) == original

    # ... and over a store with other contents, which is kept aside, whole
    other = tmp_path / "other.db"
    Store(other).set_meta("note", "the other store")
    before = tables_of(other)
    code, out, err = run(capsys, "restore", str(saved), "--db", str(other))
    assert code == 0 and err == ""
    assert tables_of(other) == original
    kept = Path(out.strip().rsplit(" kept as ", 1)[1])
    assert kept.name.startswith("other.db.replaced-")
    assert tables_of(kept) == before
    # the restored store opens as any other, in WAL mode again
    assert Store(other).get_meta("note") == "before the backup"


def test_a_backup_taken_while_a_writer_commits_is_consistent(db: Path, tmp_path: Path) -> None:
    stop = threading.Event()
    committed = [0]
    errors: list[BaseException] = []

    def writer() -> None:
        store = Store(db)  # its own connection, as another process would have
        try:
            while not stop.is_set():
                n = committed[0] + 1
                # one transaction writes two tables: a consistent copy has both or neither
                with store.transaction() as conn:
                    conn.execute(
                        """INSERT INTO fetch_log (source, kind, started_at, finished_at, ok, rows, message)
                           VALUES ('writer', 'prices', 'x', 'x', 1, ?, 'w')""",
                        (n,),
                    )
                    store.set_meta("writer_n", str(n), conn)
                committed[0] = n
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while committed[0] < 200:
            thread.join(0.01)
        before = committed[0]
        saved = tmp_path / "live.db"
        assert main(["backup", str(saved), "--db", str(db)]) == 0
        after = committed[0]
        while committed[0] < after + 50:  # the writer was never stopped by the backup
            thread.join(0.01)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    conn = sqlite3.connect(saved)
    rows = conn.execute("SELECT COUNT(*), MAX(rows) FROM fetch_log WHERE source = 'writer'").fetchone()
    (meta,) = conn.execute("SELECT value FROM meta WHERE key = 'writer_n'").fetchone()
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    assert rows[0] == rows[1] == int(meta)  # the copy is one commit's state
    # everything committed before the backup began is in it, WAL contents included (the writer counts
    # a commit just after it returns: one more may have landed before ``after`` was read)
    assert before <= int(meta) <= after + 1


def test_backup_refuses_a_missing_store_an_existing_target_and_a_missing_folder(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing.db"
    code, out, err = run(capsys, "backup", str(tmp_path / "b.db"), "--db", str(missing))
    assert (code, out, err) == (4, "", f"storage.path: {missing}: no such file\n")
    assert not missing.exists()  # no empty store created on the way

    target = tmp_path / "exists.db"
    target.write_text("keep me")
    code, _, err = run(capsys, "backup", str(target), "--db", str(db))
    assert (code, err) == (2, f"backup: {target} exists; pass --force to overwrite it\n")
    assert target.read_text() == "keep me"
    assert run(capsys, "backup", str(target), "--db", str(db), "--force")[0] == 0
    assert tables_of(target) == tables_of(db)

    code, _, err = run(capsys, "backup", str(tmp_path / "no" / "such" / "b.db"), "--db", str(db))
    assert (code, err) == (4, f"backup: {tmp_path / 'no' / 'such'}: no such folder\n")


def _sqlite(path: Path, *statements: str) -> Path:
    conn = sqlite3.connect(path)
    for s in statements:
        conn.executescript(s)
    conn.commit()
    conn.close()
    return path


def test_restore_refuses_what_is_not_a_spreadwatch_store_it_knows(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_before = digest(db)
    newer = tmp_path / "newer.db"
    newer.write_bytes(db.read_bytes())
    _sqlite(newer, f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    cases = {
        tmp_path / "missing.db": "no such file",
        text: "not an SQLite database (file is not a database)",
        _sqlite(tmp_path / "foreign.db", "CREATE TABLE t (x)"): "not a spreadwatch store (no schema version)",
        _sqlite(tmp_path / "partial.db", MIGRATIONS[0], "PRAGMA user_version = 2"): (
            "not a spreadwatch store (missing table(s) board_snapshots, policy_events, regime_series, "
            "regime_states, regime_transitions, sw_analysis)"
        ),
        newer: (
            f"schema version {len(MIGRATIONS) + 1} is newer than this program knows ({len(MIGRATIONS)}); "
            "upgrade spreadwatch"
        ),
    }
    cases[tmp_path] = "not a file"
    cases[tmp_path / ("x" * 300 + ".db")] = "File name too long"
    # a wrong file given as PATH is a wrong argument (docs/operations.md): 2
    for path, reason in cases.items():
        code, out, err = run(capsys, "restore", str(path), "--db", str(db))
        assert (code, out, err) == (2, "", f"restore: {path}: {reason}\n"), path
    # a spreadwatch store that is damaged cannot be used: 4
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes())
    conn = sqlite3.connect(damaged)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(damaged.read_bytes())
    data[4096 : 2 * 4096] = b"\xa5" * 4096  # a table's root page: garbage
    damaged.write_bytes(bytes(data))
    code, out, err = run(capsys, "restore", str(damaged), "--db", str(db))
    assert (code, out) == (4, "") and err.startswith(f"restore: {damaged}: ") and len(err.splitlines()) == 1
    assert digest(db) == store_before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no partial copies left


def test_restore_refuses_a_folder_as_the_store(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "saved.db"
    assert run(capsys, "backup", str(saved), "--db", str(db))[0] == 0
    folder = tmp_path / "a-folder"
    (folder / "inside").mkdir(parents=True)
    code, out, err = run(capsys, "restore", str(saved), "--db", str(folder))
    assert (code, out) == (4, "")
    assert err == (f"restore: storage.path {folder} is a folder: set storage.path (or --db) to the store's file\n")
    assert (folder / "inside").is_dir() and not list(tmp_path.glob("a-folder.replaced-*"))  # not set aside


def test_restore_refuses_a_store_in_use_by_a_service_or_a_refresh(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.db"
    assert main(["backup", str(saved), "--db", str(db)]) == 0
    capsys.readouterr()
    Store(db).set_meta("note", "after the backup")
    store_before = tables_of(db)

    lock = ServiceLock(db)
    lock.acquire()
    try:
        code, out, err = run(capsys, "restore", str(saved), "--db", str(db))
    finally:
        lock.release()
    assert (code, out) == (1, "")
    assert err == (
        f"restore: storage.path {db} is in use by a running service; stop it first "
        "(or pass --force, then restart it at once: it would go on writing to the replaced file)\n"
    )

    with Store(db).refresh_lock():
        code, out, err = run(capsys, "restore", str(saved), "--db", str(db))
    assert (code, out, err) == (1, "", f"restore: a refresh is writing to {db}; try again when it is done\n")
    assert tables_of(db) == store_before
    assert sorted(p.name for p in tmp_path.iterdir() if ".restoring-" in p.name) == []


def test_restore_refuses_while_the_bot_runs_and_force_makes_healthz_ask_for_a_restart(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "saved.db"
    assert main(["backup", str(saved), "--db", str(db)]) == 0
    harness = BotHarness(db, sections={"ops": {"listen": "127.0.0.1:0"}}).start()
    try:
        capsys.readouterr()
        code, _, err = run(capsys, "restore", str(saved), "--db", str(db))
        assert code == 1 and "in use by a running service" in err

        code, out, err = run(capsys, "restore", str(saved), "--db", str(db), "--force")
        assert code == 0 and out.startswith(f"restore: {saved} -> {db} (")
        assert err == "warning: a running service was using the store: restart it now\n"
        port = harness.application.bot_data.ops_server.port
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert answer.value.code == 503
        assert "was replaced or removed since the start; restart the service" in answer.value.read().decode()
    finally:
        harness.stop()
    # stopped, the service no longer holds the store: a restore goes through without --force
    code, _, err = run(capsys, "restore", str(saved), "--db", str(db))
    assert (code, err) == (0, "")


def test_a_backup_of_an_older_schema_is_restored_and_migrated_forward_on_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _sqlite(
        tmp_path / "old.db",
        *MIGRATIONS[:-1],
        f"PRAGMA user_version = {len(MIGRATIONS) - 1}",
        "INSERT INTO meta (key, value) VALUES ('note', 'from an older release')",
    )
    store_path = tmp_path / "store.db"
    code, out, err = run(capsys, "restore", str(old), "--db", str(store_path))
    assert (code, err) == (0, "")
    assert f"(schema version {len(MIGRATIONS) - 1}, " in out
    store = Store(store_path)
    assert store.schema_version() == len(MIGRATIONS)
    assert store.get_meta("note") == "from an older release"
