"""Every stored snapshot of the source in memory, as the dashboard reads them: one row per trading day.

The dashboard answers from the snapshots the bot answers from (the ``snapshots`` table), never from a
recomputation. Reading them all means decoding 3,845 ``gains_json`` lists (a few hundred
milliseconds), so the table is read once and then kept up to date incrementally: each look at the store
asks for the rows written since the newest ``computed_at`` it holds (a new trading day, or the days
a revision recomputed) and reads again only from the earliest of them. A new trading day therefore
costs one row, and a restated history is taken in whole.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jobs.store.datastore import Store


@dataclass(frozen=True)
class DayRow:
    day: date
    spread: float
    percentile: float
    k: int
    # every ranked industry that day, highest gain first: (code, name, gain in percent points)
    gains: tuple[tuple[str, str, float], ...]


@dataclass
class DailyTable:
    """The snapshot rows of one source, oldest first; ``version`` changes whenever a row does."""

    source: str
    rows: list[DayRow] = field(default_factory=list)
    newest_computed_at: str = ""
    version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refresh(self, store: Store) -> DailyTable:
        """Take in what changed in the store since the last look (runs in a worker thread)."""
        with self._lock:
            conn = store.connect()
            last = self.rows[-1].day.isoformat() if self.rows else ""
            head = conn.execute(
                "SELECT COUNT(*), MAX(date), MAX(computed_at) FROM snapshots WHERE source = ?", (self.source,)
            ).fetchone()
            count, newest_day, newest_at = int(head[0] or 0), head[1] or "", head[2] or ""
            if count == len(self.rows) and newest_day == last and newest_at == self.newest_computed_at:
                return self
            # rows written at or after the newest stamp held (>=: two saves within the stamp's resolution)
            first_changed = conn.execute(
                "SELECT MIN(date) FROM snapshots WHERE source = ? AND computed_at >= ?",
                (self.source, self.newest_computed_at),
            ).fetchone()[0]
            since = first_changed if first_changed and count >= len(self.rows) else ""
            if since:
                keep = [r for r in self.rows if r.day.isoformat() < since]
                if (
                    len(keep)
                    + conn.execute(
                        "SELECT COUNT(*) FROM snapshots WHERE source = ? AND date >= ?", (self.source, since)
                    ).fetchone()[0]
                    != count
                ):
                    keep, since = [], ""  # rows vanished before the changed stretch: read everything
            else:
                keep = []
            fresh = conn.execute(
                """SELECT date, spread, percentile, k, gains_json, computed_at FROM snapshots
                   WHERE source = ? AND date >= ? ORDER BY date""",
                (self.source, since),
            ).fetchall()
            self.rows = keep + [_row(r) for r in fresh]
            self.newest_computed_at = newest_at
            self.version += 1
            return self


def _row(r: Any) -> DayRow:
    gains = tuple((g["code"], g["name"], float(g["gain"])) for g in json.loads(r["gains_json"]))
    return DayRow(date.fromisoformat(r["date"]), float(r["spread"]), float(r["percentile"]), int(r["k"]), gains)
