"""The store on PostgreSQL (storage.url): one migration history, the same queries, the same answers.

Every test here runs against the throwaway server of ``pg_cluster`` (marker ``postgres``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.alerting_support import SW

from bot.cli.main import main
from jobs.alerting.alert_log import ChatOutcome, TransitionRecord, record_transitions
from jobs.config.settings import ConfigError, parse_settings
from jobs.regimes.repo import RegimeRepo
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store, StoreError
from jobs.store.db_postgres import postgres_ddl, postgres_sql
from jobs.store.db_sqlite import SqliteDatabase
from jobs.store.outbox import Outbox
from jobs.store.schema import MIGRATIONS

DAY = date(2025, 2, 14)
SQLITE_TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text"}


def _sqlite_tables(conn: sqlite3.Connection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    names = [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    ]
    for table in names:
        cols = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        columns = [(c[1], SQLITE_TYPES[c[2]], bool(c[3]) or bool(c[5])) for c in cols]
        key = tuple(c[1] for c in sorted((c for c in cols if c[5]), key=lambda c: c[5]))
        uniques = set()
        for idx in conn.execute(f'PRAGMA index_list("{table}")').fetchall():
            if idx[2] and idx[3] == "u":  # UNIQUE (...) constraints, not the primary key
                uniques.add(tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{idx[1]}")')))
        indexes = {
            tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{idx[1]}")'))
            for idx in conn.execute(f'PRAGMA index_list("{table}")').fetchall()
            if idx[3] == "c"
        }
        out[table] = {"columns": columns, "key": key, "unique": uniques, "indexes": indexes}
    return out


def _pg_tables(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'spreadwatch_schema'"
        )
    ]
    for table in tables:
        columns = [
            (r[0], r[1], r[2] == "NO")
            for r in conn.execute(
                """SELECT column_name, data_type, is_nullable FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position""",
                (table,),
            )
        ]
        constraints: dict[str, set[tuple[str, ...]]] = {"p": set(), "u": set()}
        for kind, cols in conn.execute(
            """SELECT c.contype, array_agg(a.attname ORDER BY k.ord)
               FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
               WHERE c.conrelid = %s::regclass AND c.contype IN ('p', 'u') GROUP BY c.oid, c.contype""",
            (table,),
        ):
            constraints[kind].add(tuple(cols))
        indexes = {
            tuple(r[0])
            for r in conn.execute(
                """SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_index i
                   CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   WHERE i.indrelid = %s::regclass AND NOT i.indisunique GROUP BY i.indexrelid""",
                (table,),
            )
        }
        (key,) = constraints["p"] or {()}
        out[table] = {"columns": columns, "key": key, "unique": constraints["u"], "indexes": indexes}
    return out


def test_every_migration_gives_the_same_tables_on_both(make_pg_url: Any) -> None:
    """Applied one by one, each migration leaves the same tables, columns, types, keys, unique
    constraints and indexes on SQLite and on PostgreSQL."""
    lite = sqlite3.connect(":memory:")
    with psycopg.connect(make_pg_url(), autocommit=True) as pg:
        for i, script in enumerate(MIGRATIONS, start=1):
            lite.executescript(script)
            for statement in postgres_ddl(script):
                pg.execute(statement)  # type: ignore[call-overload]
            got, want = _pg_tables(pg), _sqlite_tables(lite)
            assert got == want, f"migration {i} differs"
    assert len(want) >= 17


def test_the_store_migrates_a_new_database_and_opens_it_again(pg_url: str) -> None:
    store = Store(pg_url)
    assert store.kind == "postgresql" and store.path is None
    assert store.schema_version() == len(MIGRATIONS)
    store.set_meta("k", "v")
    store.close_all()
    again = Store(pg_url)  # nothing to migrate; the data is there
    assert again.schema_version() == len(MIGRATIONS) and again.get_meta("k") == "v"
    again.close_all()


def test_the_report_is_the_same_on_postgresql_as_on_sqlite(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not SW.exists():
        pytest.skip("shared data not present")
    argv = ["report", "--as-of", "2025-02-14", "--json", "--source", f"csv:{SW}"]
    assert main([*argv, "--db", str(tmp_path / "s.db")]) == 0
    on_sqlite = capsys.readouterr().out
    assert main([*argv, "--db", pg_url]) == 0
    on_postgres = capsys.readouterr().out
    assert on_postgres == on_sqlite
    report = json.loads(on_postgres)
    assert (report["spread"], report["percentile"]) == (53.9901, 94.19)


def test_outbox_keys_ids_and_a_group_migration_behave_as_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    for store in (Store(tmp_path / "s.db"), Store(pg_url)):
        box = Outbox(store, clock=lambda: 1000.0)
        big = -1_001_234_567_890  # a supergroup id: past 32 bits
        ChatRepo(store).ensure(big, "supergroup")
        with store.transaction() as conn:
            assert box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=7, parts=["a", "b"]) == 2
            assert box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=7, parts=["a", "b"]) == 0
            box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=big, parts=["a"])
        # the group 7 becomes the supergroup: part 0 is queued there already, part 1 moves
        assert box.move_chat(7, big) == 1
        rows = {(r.chat_id, r.part): r.status for r in box.rows()}
        assert rows == {(7, 0): "dead", (big, 0): "pending", (big, 1): "pending"}
        claimed = box.claim(box.rows(chat_id=big)[0].id, "w1", 60)
        assert claimed is not None and claimed.chat_id == big and claimed.attempts == 0
        assert box.claim(claimed.id, "w2", 60) is None  # held by w1
        assert box.renew(claimed.id, "w1", 60) == 1  # the send is counted, not the claim
        box.retry_later(claimed.id, "w1", 0, "flood", count_attempt=False)
        assert box.rows(chat_id=big)[0].attempts == 0
        event = RegimeRepo(store).add_event(DAY, "policy", "admin")
        assert RegimeRepo(store).add_event(DAY, "again", "admin") == event + 1
        store.close_all()


def test_a_claim_skips_a_row_another_instance_has_locked_instead_of_waiting(pg_url: str) -> None:
    store = Store(pg_url)
    box = Outbox(store, clock=lambda: 1000.0)
    with store.transaction() as conn:
        box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=5, parts=["x"])
    (row,) = box.rows()
    result: list[Any] = []
    with psycopg.connect(pg_url) as other:  # another instance, in the middle of claiming that row
        other.execute("SELECT id FROM outbox WHERE id = %s FOR UPDATE", (row.id,))
        worker = threading.Thread(target=lambda: result.append(box.claim(row.id, "w2", 60)))
        worker.start()
        worker.join(timeout=20)
        assert not worker.is_alive(), "the claim waited for the other instance's row lock"
        other.rollback()
    assert result == [None]
    assert box.claim(row.id, "w2", 60) is not None  # free again
    store.close_all()


def test_write_transactions_are_serialised_across_connections(pg_url: str) -> None:
    """A read-modify-write in ``transaction()`` never loses an update to another instance's."""
    stores = [Store(pg_url), Store(pg_url)]
    stores[0].set_meta("n", "0")

    def bump(store: Store) -> None:
        for _ in range(25):
            with store.transaction() as conn:
                n = int(conn.execute("SELECT value FROM meta WHERE key = 'n'").fetchone()[0])
                store.set_meta("n", str(n + 1), conn)
        store.close()

    threads = [threading.Thread(target=bump, args=(s,)) for s in stores for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert stores[0].get_meta("n") == "100"
    for s in stores:
        s.close_all()


def test_a_named_lock_is_held_across_instances_and_freed_when_its_holder_dies(pg_url: str) -> None:
    first, second = Store(pg_url), Store(pg_url)
    with first.lock("daily"):
        with pytest.raises(TimeoutError, match="daily"), second.lock("daily", patience_s=0.3):
            pass
        with second.lock("regimes", patience_s=0.3):  # another name is another lock
            pass
        # the holder's connection dies (a killed instance): the server frees its lock
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            )
        with second.lock("daily", patience_s=10):
            pass
    first.close_all()
    second.close_all()


def test_an_alert_day_is_recorded_once_when_two_instances_record_it(pg_url: str) -> None:
    stores = [Store(pg_url), Store(pg_url)]
    record = TransitionRecord(kind="fire", tier=1, previous_tier=0, reason="p>=90", inputs={}, parts=("alert",))
    results = [
        record_transitions(s, "spread", DAY, [ChatOutcome(5, {"tier": 1}, record)], evaluated_key="k") for s in stores
    ]
    assert [r.transitions for r in results] == [1, 0] and [r.skipped_chats for r in results] == [(), (5,)]
    assert [r.status for r in Outbox(stores[0]).rows()] == ["pending"]
    for s in stores:
        s.close_all()


def test_storage_url_is_checked_and_its_password_stays_out_of_the_config() -> None:
    with pytest.raises(ConfigError, match=r"storage\.url.*PGPASSWORD"):
        parse_settings({"storage": {"url": "postgresql://u:secret@db.example:5432/sw"}}, "test")
    with pytest.raises(ConfigError, match=r"storage\.url.*postgresql://"):
        parse_settings({"storage": {"url": "mysql://u@db/sw"}}, "test")
    with pytest.raises(ConfigError, match=r"storage\.url.*database name"):
        parse_settings({"storage": {"url": "postgresql://u@db.example:5432"}}, "test")
    settings = parse_settings({"storage": {"url": "postgresql://u@db.example:5432/sw"}}, "test")
    assert settings.storage.target == "postgresql://u@db.example:5432/sw"
    assert parse_settings({}, "test").storage.target == Path("spreadwatch.db")


def test_an_unreachable_server_is_one_line_naming_storage_url(pg_cluster: Any) -> None:
    with pytest.raises(StoreError) as caught:
        Store(f"postgresql://spreadwatch@127.0.0.1:{pg_cluster.port}/no_such_database")
    text = str(caught.value)
    assert "storage.url" in text and "no_such_database" in text and "\n" not in text


def test_the_cli_answers_store_problems_and_backup_on_postgresql(
    pg_url: str, pg_cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = f"postgresql://spreadwatch@127.0.0.1:{pg_cluster.port}/missing_db"
    assert main(["report", "--db", wrong]) == 4
    err = capsys.readouterr().err
    assert "missing_db" in err and "storage.url" in err and "Traceback" not in err
    assert main(["backup", str(tmp_path / "b.db"), "--db", pg_url]) == 2
    err = capsys.readouterr().err
    assert "pg_dump" in err and pg_url in err and not (tmp_path / "b.db").exists()
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: {pg_url}\n", encoding="utf-8")
    main(["check-config", "--config", str(config)])
    out, err = capsys.readouterr()
    assert f"store: {pg_url} (PostgreSQL)" in out and "cannot use the store" not in err
    config.write_text(f"storage:\n  url: {wrong}\n", encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 4
    assert "missing_db" in capsys.readouterr().err


def test_migrate_store_copies_an_installation_and_verifies_it(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "s.db"
    lite = Store(db)
    chats = ChatRepo(lite)
    chats.ensure(42)
    chats.update(42, subscribed=1, lang="en", threshold=92.5)
    record = TransitionRecord(kind="fire", tier=1, previous_tier=0, reason="p>=90", inputs={"p": 94}, parts=("hi",))
    record_transitions(lite, "spread", DAY, [ChatOutcome(42, {"tier": 1}, record)], evaluated_key="k")
    lite.save_calendar_days([date(2027, 1, 4)])
    lite.close_all()
    before = {t: n for t, n in _counts(SqliteDatabase(db)).items()}

    assert main(["migrate-store", "--from", f"sqlite:{db}", "--to", pg_url]) == 0
    out = capsys.readouterr().out
    assert "counts verified" in out and "outbox" in out

    pg = Store(pg_url)
    assert {t: int(pg.connect().execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in before} == before
    chat = ChatRepo(pg).get(42)
    assert chat is not None and chat.subscribed and chat.threshold == 92.5 and chat.lang == "en"
    (row,) = Outbox(pg).rows()
    assert row.text == "hi" and row.chat_id == 42
    # the id sequences moved past the copied ids: new rows get new ids
    record2 = TransitionRecord(kind="resolve", tier=0, previous_tier=1, reason="p<80", inputs={}, parts=("bye",))
    record_transitions(pg, "spread", date(2025, 2, 17), [ChatOutcome(42, {"tier": 0}, record2)])
    assert sorted(r.id for r in Outbox(pg).rows()) == [row.id, row.id + 1]
    pg.close_all()

    assert main(["migrate-store", "--from", f"sqlite:{db}", "--to", pg_url]) == 1
    assert "not empty" in capsys.readouterr().err
    assert main(["migrate-store", "--from", f"sqlite:{tmp_path / 'none.db'}", "--to", pg_url]) == 2  # a wrong --from
    assert main(["migrate-store", "--from", f"sqlite:{db}", "--to", "postgresql://u:pw@h/db"]) == 2
    assert "pw" not in capsys.readouterr().err


def _counts(db: SqliteDatabase) -> dict[str, int]:
    conn = db.connect()
    names = [
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")
    ]
    return {t: int(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]) for t in names}


def test_placeholders_become_psycopg_ones_outside_quoted_text() -> None:
    assert postgres_sql("SELECT * FROM t WHERE a = ? AND b LIKE 'x%?' AND c = ?") == (
        "SELECT * FROM t WHERE a = %s AND b LIKE 'x%%?' AND c = %s"
    )
    assert postgres_sql('SELECT "window" FROM t WHERE k % 2 = ?') == 'SELECT "window" FROM t WHERE k %% 2 = %s'


def test_a_row_another_instance_is_sending_is_not_left_for_later(pg_url: str, tmp_path: Path) -> None:
    """After a drain, a row that another live sender holds is in flight, not left behind: the run that
    did not send it exits 0; once that sender's lease runs out, the row counts again."""
    now = [1000.0]
    for store in (Store(tmp_path / "s.db"), Store(pg_url)):
        now[0] = 1000.0
        box = Outbox(store, clock=lambda: now[0])
        with store.transaction() as conn:
            box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=5, parts=["x"])
            box.enqueue(conn, rule_id="spread", tier=1, kind="fire", day=DAY, chat_id=6, parts=["y"])
        first = box.rows()[0]
        assert box.claim(first.id, "a", lease_s=60) is not None
        assert (box.left_for_later("a"), box.left_for_later("b")) == (2, 1)
        now[0] += 61  # a's lease ran out: a died, its row is b's to take over
        assert box.left_for_later("b") == 2
        store.close_all()


def test_a_session_the_server_ended_is_replaced_without_failing_a_statement(pg_url: str) -> None:
    """The server ended the idle sessions (a restart, an admin): a read outside a transaction runs again
    on a new connection, and a transaction whose BEGIN found the connection dead starts again on a new
    one; nothing of either had run, so nothing runs twice."""
    store = Store(pg_url)
    store.set_meta("k", "v")

    def end_sessions() -> None:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )

    end_sessions()
    assert store.get_meta("k") == "v"
    end_sessions()
    with store.transaction() as conn:  # writes too
        store.set_meta("k", "w", conn)
    assert store.get_meta("k") == "w"
    store.close_all()
