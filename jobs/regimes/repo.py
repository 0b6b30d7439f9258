"""Reading and writing the regime tables of the store (see the regime migration in ``jobs.store.datastore``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import pandas as pd

from jobs.regimes.breadth import BoardPoint
from jobs.regimes.macro import PolicyEvent
from jobs.regimes.transitions import Known, Transition
from jobs.regimes.types import Ranking, ScenarioResult, State
from jobs.store.datastore import Store, gain_from_dict, now_iso
from jobs.store.db import Connection, upsert_sql


class RegimeRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- monthly series (pmi, ppi_yoy) ---------------------------------------------------------
    def save_series(self, series: str, points: Iterable[tuple[date, float]]) -> int:
        rows = [(series, m.replace(day=1).isoformat(), float(v)) for m, v in points]
        with self.store.transaction() as conn:
            before = conn.execute("SELECT COUNT(*) FROM regime_series WHERE series = ?", (series,)).fetchone()[0]
            conn.executemany(upsert_sql("regime_series", ("series", "month", "value"), key=("series", "month")), rows)
            after = conn.execute("SELECT COUNT(*) FROM regime_series WHERE series = ?", (series,)).fetchone()[0]
        return int(after - before)

    def load_series(self, series: str) -> pd.Series:
        rows = (
            self.store.connect()
            .execute("SELECT month, value FROM regime_series WHERE series = ? ORDER BY month", (series,))
            .fetchall()
        )
        return pd.Series(
            [float(r[1]) for r in rows], index=pd.DatetimeIndex([pd.Timestamp(r[0]) for r in rows]), dtype=float
        )

    def last_month(self, series: str) -> date | None:
        row = (
            self.store.connect().execute("SELECT MAX(month) FROM regime_series WHERE series = ?", (series,)).fetchone()
        )
        return date.fromisoformat(row[0]) if row and row[0] else None

    # -- spread rankings -----------------------------------------------------------------------------
    def rankings(self, source: str, start: date, end: date) -> list[Ranking]:
        """The stored snapshots from ``start`` to ``end`` as far as the scenarios read them: parsing only
        the top and bottom K of each day's gains keeps a history of thousands of days quick."""
        rows = self.store.db.fetch_tuples(
            """SELECT date, spread, percentile, history_days, k, gains_json FROM snapshots
               WHERE source = ? AND date >= ? AND date <= ? ORDER BY date""",
            (source, start.isoformat(), end.isoformat()),
        )
        out = []
        for day, spread, percentile, history_days, k, raw in rows:
            gains = json.loads(raw)
            k = int(k)
            top = tuple(gain_from_dict(g) for g in gains[:k])
            bottom = tuple(gain_from_dict(g) for g in reversed(gains[-k:]))
            out.append(
                Ranking(date.fromisoformat(day), float(spread), float(percentile), int(history_days), top, bottom)
            )
        return out

    # -- Shenwan daily analysis ----------------------------------------------------------------
    def save_analysis(self, rows: pd.DataFrame) -> int:
        """Rows with columns date, code, name, share, pe, pb (validated)."""
        data = [
            (d.isoformat(), str(c), str(n), *(None if pd.isna(v) else float(v) for v in (s, pe, pb)))
            for d, c, n, s, pe, pb in rows[["date", "code", "name", "share", "pe", "pb"]].itertuples(index=False)
        ]
        with self.store.transaction() as conn:
            conn.executemany(
                upsert_sql("sw_analysis", ("date", "code", "name", "share", "pe", "pb"), key=("date", "code")), data
            )
        return len(data)

    def load_analysis(self) -> pd.DataFrame:
        rows = self.store.connect().execute("SELECT date, code, share, pe FROM sw_analysis ORDER BY date").fetchall()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=["date", "code", "share", "pe"])
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    def last_analysis_date(self) -> date | None:
        row = self.store.connect().execute("SELECT MAX(date) FROM sw_analysis").fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    # -- concept boards ------------------------------------------------------------------------
    def save_board(self, point: BoardPoint) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                upsert_sql(
                    "board_snapshots",
                    ("board", "date", "constituents", "board_cap", "market_cap"),
                    key=("board", "date"),
                ),
                (point.board, point.day.isoformat(), point.constituents, point.board_cap, point.market_cap),
            )

    def board_points(self, boards: Sequence[str]) -> list[BoardPoint]:
        if not boards:
            return []
        marks = ",".join("?" * len(boards))
        rows = (
            self.store.connect()
            .execute(f"SELECT * FROM board_snapshots WHERE board IN ({marks}) ORDER BY date", tuple(boards))
            .fetchall()
        )
        return [
            BoardPoint(
                r["board"], date.fromisoformat(r["date"]), int(r["constituents"]), r["board_cap"], r["market_cap"]
            )
            for r in rows
        ]

    def last_board_date(self, board: str) -> date | None:
        row = self.store.connect().execute("SELECT MAX(date) FROM board_snapshots WHERE board = ?", (board,)).fetchone()
        return date.fromisoformat(row[0]) if row and row[0] else None

    def signature(self) -> tuple[Any, ...]:
        """Changes whenever the stored regime inputs change (series, analysis, boards, events): a key for
        caching what is computed from them."""
        conn = self.store.connect()
        queries = (
            "SELECT COUNT(*), MAX(month), SUM(value) FROM regime_series",
            "SELECT COUNT(*), MAX(date), SUM(pe) FROM sw_analysis",
            "SELECT COUNT(*), MAX(date), SUM(board_cap) FROM board_snapshots",
            "SELECT COUNT(*), MAX(id), COUNT(deleted_at) FROM policy_events",
        )
        return tuple(tuple(conn.execute(sql).fetchone()) for sql in queries)

    # -- policy events -------------------------------------------------------------------------
    def add_event(self, day: date, text: str, author: str, author_id: int | None = None) -> int:
        with self.store.transaction() as conn:
            row = conn.execute(
                """INSERT INTO policy_events (date, text, author_id, author, created_at) VALUES (?, ?, ?, ?, ?)
                   RETURNING id""",
                (day.isoformat(), text, author_id, author, now_iso()),
            ).fetchone()
            return int(row[0])

    def delete_event(self, event_id: int) -> bool:
        """Removed events stay in the table (marked) so that past states remain explainable."""
        with self.store.transaction() as conn:
            cur = conn.execute(
                "UPDATE policy_events SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", (now_iso(), event_id)
            )
            return cur.rowcount > 0

    def events(self) -> list[PolicyEvent]:
        rows = (
            self.store.connect()
            .execute("SELECT id, date, text, author FROM policy_events WHERE deleted_at IS NULL ORDER BY date, id")
            .fetchall()
        )
        return [PolicyEvent(int(r[0]), date.fromisoformat(r[1]), r[2], r[3]) for r in rows]

    # -- scenario states and transitions -------------------------------------------------------
    def known_states(self) -> dict[str, Known]:
        rows = self.store.connect().execute("SELECT scenario, state, since FROM regime_states").fetchall()
        return {r[0]: Known(State(r[1]), date.fromisoformat(r[2])) for r in rows}

    def record(self, conn: Connection, day: date, known: dict[str, Known], transitions: Sequence[Transition]) -> None:
        """Store the new known states and the transitions, inside the caller's transaction."""
        now = now_iso()
        reasons = {t.scenario: t.result for t in transitions}
        for name, k in known.items():
            r = reasons.get(name)
            conn.execute(
                """INSERT INTO regime_states (scenario, state, since, day, reason, evidence_json, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(scenario) DO UPDATE SET state = excluded.state, since = excluded.since,
                     day = excluded.day,
                     reason = CASE WHEN excluded.reason = '' THEN regime_states.reason ELSE excluded.reason END,
                     evidence_json = CASE WHEN excluded.reason = '' THEN regime_states.evidence_json
                                     ELSE excluded.evidence_json END,
                     updated_at = excluded.updated_at""",
                (
                    name,
                    k.state.value,
                    k.since.isoformat(),
                    day.isoformat(),
                    r.reason if r else "",
                    evidence_json(r) if r else "[]",
                    now,
                ),
            )
        conn.executemany(
            """INSERT INTO regime_transitions
               (scenario, day, old_state, new_state, reason, evidence_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT DO NOTHING""",
            [
                (t.scenario, t.day.isoformat(), t.old.value, t.new.value, t.result.reason, evidence_json(t.result), now)
                for t in transitions
            ],
        )

    def transitions(self, limit: int = 50) -> list[tuple[str, date, State, State, str]]:
        rows = (
            self.store.connect()
            .execute(
                "SELECT scenario, day, old_state, new_state, reason FROM regime_transitions ORDER BY id DESC LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [(r[0], date.fromisoformat(r[1]), State(r[2]), State(r[3]), r[4]) for r in rows]


def evidence_json(result: ScenarioResult) -> str:
    return json.dumps([e.to_json() for e in result.evidence], ensure_ascii=False)
