"""Restated closes: a close the source now gives differently from the one stored (index providers correct
closes and re-base series; a user edits a CSV). Values only: :mod:`jobs.engine.pipeline` finds them, the
store keeps the replaced values, the admins' notice and the exports show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PriceRevision:
    code: str
    day: date
    old_close: float | None  # None: a close added to a day the stored history had already used
    new_close: float
    old_amount: float | None = None
    new_amount: float | None = None
    name: str = ""  # as the source names the industry on that day

    @property
    def change_pct(self) -> float | None:
        return None if self.old_close is None else (self.new_close / self.old_close - 1.0) * 100.0


@dataclass(frozen=True)
class RevisionBatch:
    """The revisions one refresh took in, with the latest stored day's figures before them."""

    source: str
    revised_at: str  # UTC ISO time, like every *_at column of the store
    revisions: tuple[PriceRevision, ...]
    latest_day: date | None = None  # the last snapshot before the revision
    spread_before: float | None = None
    percentile_before: float | None = None
    id: int | None = None  # the store's id, once saved

    @property
    def first_day(self) -> date:
        return min(r.day for r in self.revisions)

    @property
    def last_day(self) -> date:
        return max(r.day for r in self.revisions)

    @property
    def changed(self) -> tuple[PriceRevision, ...]:
        return tuple(r for r in self.revisions if r.old_close is not None)

    @property
    def added(self) -> tuple[PriceRevision, ...]:
        return tuple(r for r in self.revisions if r.old_close is None)


@dataclass(frozen=True)
class RevisionSpan:
    """What the stored history of a source owes to revisions: from which day it differs from what was
    first stored, and when it was last revised."""

    first_day: date
    last_revised_at: str
    batches: int
