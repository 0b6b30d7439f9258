"""The figures every layer speaks of: the metric's window, industry names over time, one industry's
gain, a day's snapshot and the whole spread history. Values only: :mod:`jobs.engine.spread` computes them,
the store keeps them, the rendering shows them."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property

import numpy as np
import pandas as pd

_WINDOW_RE = re.compile(r"^(\d+)([MD])$")


@dataclass(frozen=True)
class Window:
    count: int
    unit: str  # "M" calendar months, "D" trading days (rows)

    @classmethod
    def parse(cls, text: str) -> Window:
        m = _WINDOW_RE.match(text)
        if not m or int(m.group(1)) <= 0:
            raise ValueError(f"window must look like '6M' or '120D', got {text!r}")
        return cls(int(m.group(1)), m.group(2))

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


class NameBook:
    """Industry names over time: a code keeps its code through renames (801210 餐饮旅游 → 社会服务)."""

    def __init__(self, periods: Iterable[tuple[str, date, str]] = (), english: Mapping[str, str] | None = None) -> None:
        self._english = dict(english or {})  # code -> the source's own English name
        self._by_code: dict[str, list[tuple[date, str]]] = {}
        for code, valid_from, name in periods:
            self._by_code.setdefault(code, []).append((valid_from, name))
        for spans in self._by_code.values():
            spans.sort()

    @classmethod
    def constant(cls, names: Mapping[str, str]) -> NameBook:
        return cls((code, date.min, name) for code, name in names.items())

    def name(self, code: str, on: date | None = None) -> str:
        spans = self._by_code.get(code)
        if not spans:
            return code
        if on is None:
            return spans[-1][1]
        i = bisect.bisect_right(spans, (on, "\uffff")) - 1
        return spans[max(i, 0)][1]

    def english(self, code: str) -> str:
        """The English name the source gives this code ("" when it gives none)."""
        return self._english.get(code, "")

    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def latest(self) -> dict[str, str]:
        return {code: spans[-1][1] for code, spans in self._by_code.items()}

    def periods(self) -> list[tuple[str, date, str]]:
        return [(code, d, n) for code, spans in sorted(self._by_code.items()) for d, n in spans]


@dataclass(frozen=True)
class IndustryGain:
    code: str
    name: str
    gain: float  # percent points
    rank: int  # 1 = highest gain on the day
    name_en: str = ""  # the source's own English name (a csv ``name_en`` column), else ""


@dataclass(frozen=True)
class Snapshot:
    as_of: date
    base_date: date  # B for this D: the close the gains are measured from
    spread: float
    percentile: float
    top_avg: float
    bottom_avg: float
    top: tuple[IndustryGain, ...]
    bottom: tuple[IndustryGain, ...]  # lowest gain first
    gains: tuple[IndustryGain, ...]  # every ranked industry, highest first
    n_ranked: int
    history_days: int  # days in the percentile's history, D included
    history_rank: int  # 1 = the widest spread of that history
    window: str
    k: int


@dataclass(frozen=True)
class SpreadHistory:
    """Every trading day's metric, computed at once.

    ``frame`` is indexed by date with columns spread, percentile, top_avg, bottom_avg, n_ranked,
    history_days, history_rank (rows before a spread exists are dropped). ``gains`` is the dates x codes
    matrix in percent (NaN where not ranked) and ``top_idx``/``bottom_idx`` the column positions of the
    top and bottom K per row of ``frame``.
    """

    frame: pd.DataFrame
    gains: pd.DataFrame
    base_dates: pd.Series
    top_idx: np.ndarray
    bottom_idx: np.ndarray
    names: NameBook
    window: Window
    k: int

    def __len__(self) -> int:
        return len(self.frame)

    def snapshot(self, as_of: date | None = None) -> Snapshot | None:
        """The snapshot of the last computed day on or before ``as_of`` (default: the last day)."""
        if self.frame.empty:
            return None
        idx = self.frame.index
        if as_of is None:
            pos = len(idx) - 1
        else:
            pos = int(idx.searchsorted(pd.Timestamp(as_of), side="right")) - 1
            if pos < 0:
                return None
        return self._snapshot_at(pos)

    @cached_property
    def _rows(self) -> _Rows:
        # plain arrays once: pandas indexing per row and per cell made storing every day's snapshot slow
        f = self.frame
        return _Rows(
            days=[ts.date() for ts in f.index],
            base_days=[ts.date() for ts in self.base_dates],
            stats=f[["spread", "percentile", "top_avg", "bottom_avg"]].to_numpy(dtype=float).tolist(),
            counts=f[["n_ranked", "history_days", "history_rank"]].to_numpy(dtype=np.int64).tolist(),
            gains=self.gains.to_numpy(dtype=float),
            codes=[str(c) for c in self.gains.columns],
        )

    def _snapshot_at(self, pos: int) -> Snapshot:
        r = self._rows
        day = r.days[pos]
        row_gains = r.gains[pos]
        order = np.argsort(row_gains, kind="stable")[: int(np.sum(~np.isnan(row_gains)))]
        gains = tuple(
            IndustryGain(
                r.codes[c], self.names.name(r.codes[c], day), float(row_gains[c]), rank, self.names.english(r.codes[c])
            )
            for rank, c in enumerate(order[::-1].tolist(), start=1)
        )
        spread, percentile, top_avg, bottom_avg = r.stats[pos]
        n_ranked, history_days, history_rank = r.counts[pos]
        return Snapshot(
            as_of=day,
            base_date=r.base_days[pos],
            spread=spread,
            percentile=percentile,
            top_avg=top_avg,
            bottom_avg=bottom_avg,
            top=gains[: self.k],
            bottom=tuple(reversed(gains[-self.k :])),
            gains=gains,
            n_ranked=n_ranked,
            history_days=history_days,
            history_rank=history_rank,
            window=str(self.window),
            k=self.k,
        )


@dataclass(frozen=True)
class _Rows:
    days: list[date]
    base_days: list[date]
    stats: list[list[float]]
    counts: list[list[int]]
    gains: np.ndarray
    codes: list[str]
