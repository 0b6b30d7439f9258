"""The SQLite store: versioned schema, forward migration, two writing processes, snapshot round trip."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from jobs.engine.spread import compute_history
from jobs.model.figures import NameBook
from jobs.store.datastore import MIGRATIONS, FetchRecord, Store

REPO = Path(__file__).resolve().parents[1]


def test_a_new_store_has_the_current_schema_version(store: Store) -> None:
    assert store.schema_version() == len(MIGRATIONS)
    tables = {r[0] for r in store.connect().execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "industry_names", "prices", "snapshots", "fetch_log", "calendar_days", "chats"} <= tables
    assert store.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_migrates_nothing_and_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Store(path)
    first.set_meta("k", "v")
    first.save_calendar_days([date(2027, 1, 4)])
    first.close()
    again = Store(path)
    assert again.schema_version() == len(MIGRATIONS)
    assert again.get_meta("k") == "v" and again.calendar_days() == [date(2027, 1, 4)]
    again.close()
    Store(path).close()  # a third open is just as harmless


def test_an_old_store_is_migrated_forward(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO meta (key, value) VALUES ('kept', 'yes')")
    conn.commit()
    conn.close()
    s = Store(path)
    assert s.schema_version() == len(MIGRATIONS) and s.get_meta("kept") == "yes"


def test_a_store_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this program knows"):
        Store(path)
    conn = sqlite3.connect(path)  # and it was left alone
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
    conn.close()


WRITER = """
import sys, time
from datetime import date, timedelta
import pandas as pd
from jobs.store.datastore import FetchRecord, Store

path, name, start_at, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
while time.time() < start_at:
    time.sleep(0.001)
store = Store(path)  # both processes may migrate a fresh file at the same moment
for i in range(n):
    day = date(2020, 1, 1) + timedelta(days=i)
    batch = pd.DataFrame({"date": [day], "code": ["801010"], "close": [1000.0 + i]})
    store.save_batch(name, batch, [("801010", date(2020, 1, 1), "农林牧渔")])
    store.log_fetch(FetchRecord(name, "prices", "t0", "t1", True, 1, day, "ok"))
    store.set_meta("last-writer", name)
print("done", name)
"""


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    n = 150
    start_at = time.time() + 1.0  # both start writing at the same instant, after their imports
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, str(start_at), str(n)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and out.startswith("done")
    s = Store(path)
    conn = s.connect()
    for name in ("one", "two"):
        assert conn.execute("SELECT COUNT(*) FROM prices WHERE source = ?", (name,)).fetchone()[0] == n
        assert conn.execute("SELECT COUNT(*) FROM fetch_log WHERE source = ?", (name,)).fetchone()[0] == n
    assert s.schema_version() == len(MIGRATIONS)


def test_prices_round_trip_and_last_closes(store: Store) -> None:
    batch = pd.DataFrame(
        {
            "date": [date(2025, 2, 13), date(2025, 2, 13), date(2025, 2, 14)],
            "code": ["801750", "801950", "801750"],
            "close": [1.5, 2.5, 3.5],
            "amount": [10.0, None, 30.0],
        }
    )
    assert store.save_batch("csv:x", batch, [("801750", date(2025, 2, 13), "计算机")]) == 3
    wide = store.load_prices("csv:x")
    assert wide.loc["2025-02-14", "801750"] == 3.5 and pd.isna(wide.loc["2025-02-14", "801950"])
    assert store.load_prices("csv:x", "amount").loc["2025-02-13", "801750"] == 10.0
    assert store.last_closes("csv:x") == {"801750": (date(2025, 2, 14), 3.5), "801950": (date(2025, 2, 13), 2.5)}
    assert store.last_price_date("csv:x") == date(2025, 2, 14)
    assert store.last_price_date("sample") is None  # sources never mix


def test_snapshots_round_trip(store: Store) -> None:
    days = pd.bdate_range("2024-01-01", periods=8)
    closes = pd.DataFrame({c: [100.0 * (1 + 0.01 * i * (j + 1)) for i in range(8)] for j, c in enumerate("ABCD")})
    closes.index = days
    history = compute_history(closes, NameBook.constant({"A": "a&b", "B": "b", "C": "c", "D": "d"}), "2D", k=2)
    assert store.save_history("x", history) == len(history)
    for d in days[2:]:
        got, want = store.snapshot("x", d.date()), history.snapshot(d.date())
        assert got is not None and want is not None
        # gains are stored to 6 decimals (of a percent): everything else is exact
        assert replace(got, top=(), bottom=(), gains=()) == replace(want, top=(), bottom=(), gains=())
        for stored, computed in zip(got.gains, want.gains, strict=True):
            assert (stored.code, stored.name, stored.rank) == (computed.code, computed.name, computed.rank)
            assert stored.gain == pytest.approx(computed.gain, abs=1e-6)
        assert [g.code for g in got.top] == [g.code for g in want.top]
        assert [g.code for g in got.bottom] == [g.code for g in want.bottom]
    assert store.spread_series("x")["spread"].tolist() == pytest.approx(history.frame["spread"].tolist())
    # writing only the days after a given one keeps the others
    assert store.save_history("x", history, since=days[-2].date()) == 1
    assert len(store.snapshots_between("x", days[0].date(), days[-1].date())) == len(history)


def test_fetch_log_keeps_the_latest_per_source(store: Store) -> None:
    store.log_fetch(FetchRecord("akshare", "prices", "a", "b", True, 5, date(2025, 1, 2), "5 new rows"))
    store.log_fetch(FetchRecord("akshare", "prices", "c", "d", False, 0, date(2025, 1, 2), "boom"))
    last = store.last_fetch("akshare")
    ok = store.last_fetch("akshare", ok=True)
    assert last is not None and last.message == "boom" and not last.ok
    assert ok is not None and ok.rows == 5 and ok.last_date == date(2025, 1, 2)
    assert store.last_fetch("akshare", kind="calendar") is None


def _batch(day: date, closes: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"date": [day] * len(closes), "code": list(closes), "close": list(closes.values())})


def test_the_cached_price_frame_follows_writes_from_this_and_other_store_objects(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    reader, writer = Store(path), Store(path)  # two handles on one file, as two processes would have
    names = [("A", date(2020, 1, 1), "a"), ("B", date(2020, 1, 1), "b")]
    reader.save_batch("s", _batch(date(2020, 1, 2), {"A": 1.0, "B": 2.0}), names)
    first = reader.load_prices("s")
    assert first.shape == (1, 2)
    first.iloc[0, 0] = 99.0  # callers get a copy: mutating it must not poison the cache
    assert reader.load_prices("s").iloc[0, 0] == 1.0

    writer.save_batch("s", _batch(date(2020, 1, 3), {"A": 1.5, "B": 2.5}), names)
    after = reader.load_prices("s")
    assert list(after.index.date) == [date(2020, 1, 2), date(2020, 1, 3)]
    assert after.loc[pd.Timestamp("2020-01-03"), "B"] == 2.5
    assert reader.load_prices("s", "amount").isna().all().all()


def test_the_cached_price_frame_follows_each_save_exactly_as_a_fresh_read(tmp_path: Path) -> None:
    """After a save, ``load_prices`` answers from the cache brought up to date with the batch: the same
    frame a new process reads from the file, for new days, a new industry and a corrected close."""
    store = Store(tmp_path / "s.db")

    def batch(rows: list[tuple[str, str, float, float | None]]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "date": [date.fromisoformat(d) for d, *_ in rows],
                "code": [c for _, c, *_ in rows],
                "close": [v for _, _, v, _ in rows],
                "amount": [a for *_, a in rows],
            }
        )

    store.save_batch("s", batch([("2025-01-02", "801010", 10.0, 1e9), ("2025-01-02", "801020", 20.0, None)]), [])
    store.load_prices("s"), store.load_prices("s", "amount")  # cached
    later = [
        ("2025-01-03", "801010", 11.0, 2e9),
        ("2025-01-03", "801030", 30.0, 3e9),  # an industry not seen before
        ("2025-01-02", "801020", 21.0, 5e8),  # a corrected close of a stored day
    ]
    store.save_batch("s", batch(later), [])
    # brought up to date in place: the cache already holds the version just written
    assert store._price_cache[("s", "close")][0] == store.get_meta("prices_version:s")
    fresh = Store(tmp_path / "s.db")
    for column in ("close", "amount"):
        pd.testing.assert_frame_equal(store.load_prices("s", column), fresh.load_prices("s", column))
    assert store.load_prices("s").loc["2025-01-02", "801020"] == 21.0
    # another process saved meanwhile: this one's cache is not patched but read again
    fresh.save_batch("s", batch([("2025-01-06", "801010", 12.0, None)]), [])
    store.save_batch("s", batch([("2025-01-07", "801010", 13.0, None)]), [])
    pd.testing.assert_frame_equal(store.load_prices("s"), Store(tmp_path / "s.db").load_prices("s"))
    assert list(store.load_prices("s").index.strftime("%m-%d")) == ["01-02", "01-03", "01-06", "01-07"]
