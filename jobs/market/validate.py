"""Every batch is checked before it is stored; a batch with any problem is rejected whole.

Problems are phrased for a log line / an admin message: what, which industry, which date.
"""

from __future__ import annotations

from datetime import date
from itertools import pairwise

import numpy as np
import pandas as pd

from jobs.market.sources.base import PriceBatch
from jobs.model.text import unsafe_chars

MAX_LISTED = 5
# a move exactly at the limit passes; in floats 1100 / 1000 - 1 is a hair above 0.1, so the comparison
# allows for that rounding (far below any move a close written with a few decimals can make)
MOVE_ROUNDING = 1e-9


class BatchRejected(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "; ".join(problems[:MAX_LISTED])
        more = f" (+{len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        super().__init__(f"batch rejected: {shown}{more}")


def validate_batch(
    batch: PriceBatch,
    last_closes: dict[str, tuple[date, float]],
    max_daily_move: float,
) -> pd.DataFrame:
    """Return the batch's rows sorted by (date, code), or raise BatchRejected listing every problem."""
    rows = batch.rows
    problems: list[str] = []
    for col in ("date", "code", "name", "close"):
        if col not in rows.columns:
            raise BatchRejected([f"missing column {col!r}"])
    if rows.empty:
        return rows.copy()

    if rows["date"].isna().any():
        problems.append(f"{int(rows['date'].isna().sum())} row(s) without a date")
    unknown = sorted(set(rows["code"]) - set(batch.declared))
    if unknown:
        problems.append(f"undeclared industry code(s) {', '.join(unknown[:MAX_LISTED])}")
    for code, name in sorted(batch.declared.items()):
        unsafe = unsafe_chars(f"{code}{name}")
        if unsafe:
            # names are shown in every message and on terminals: a control or bidi character would disguise them
            problems.append(
                f"industry {code!a} named {name!a} contains control or bidi characters ({', '.join(unsafe)}): "
                "remove them from the data"
            )
    if batch.complete:
        wrong = rows.loc[rows["code"].map(batch.declared).ne(rows["name"]) & rows["code"].isin(batch.declared)]
        for code, name in wrong[["code", "name"]].drop_duplicates().itertuples(index=False):
            problems.append(f"{code} is named {name!r}, expected {batch.declared[code]!r}")

    close = pd.to_numeric(rows["close"], errors="coerce").to_numpy(dtype=float)
    bad_close = ~np.isfinite(close) | (close <= 0)
    for code, d in rows.loc[bad_close, ["code", "date"]].head(MAX_LISTED).itertuples(index=False):
        problems.append(f"{code} on {d}: close is not a positive number")
    if bad_close.sum() > MAX_LISTED:
        problems.append(f"{int(bad_close.sum()) - MAX_LISTED} more row(s) without a positive close")

    dup = rows.duplicated(["code", "date"], keep=False)
    for code, d in rows.loc[dup, ["code", "date"]].drop_duplicates().head(MAX_LISTED).itertuples(index=False):
        problems.append(f"{code} on {d}: duplicate date")
    if problems:
        raise BatchRejected(problems)

    for code, part in rows.groupby("code", sort=True):
        dates = list(part["date"])
        if any(b <= a for a, b in pairwise(dates)):
            problems.append(f"{code}: dates are not ascending")
            continue
        prev = last_closes.get(str(code))
        if prev is not None and dates[0] <= prev[0]:
            problems.append(f"{code}: batch starts {dates[0]}, not after the stored {prev[0]}")
            continue
        series = part["close"].to_numpy(dtype=float)
        if prev is not None:
            series = np.concatenate([[prev[1]], series])
            dates = [prev[0], *dates]
        moves = np.abs(series[1:] / series[:-1] - 1.0)
        for i in np.flatnonzero(moves > max_daily_move + MOVE_ROUNDING)[:2]:
            problems.append(
                f"{code} on {dates[i + 1]}: close {series[i + 1]:g} moves {moves[i] * 100:.0f}% from "
                f"{series[i]:g} on {dates[i]} (limit {max_daily_move * 100:.0f}%)"
            )

    if batch.complete:
        absent = sorted(set(batch.declared) - set(rows["code"]))
        if absent:
            problems.append(f"industries missing from the batch: {', '.join(absent[:MAX_LISTED])}")
        # On a backfill the series start on different days; from the day all have started, every
        # trading day must carry every industry.
        firsts = rows.groupby("code")["date"].min()
        fresh = [firsts[c] for c in firsts.index if c not in last_closes]
        start = max(fresh) if fresh else min(firsts)
        per_day = rows.loc[rows["date"] >= start].groupby("date")["code"].agg(set)
        for d, codes in per_day.items():
            missing = sorted(set(batch.declared) - codes)
            if missing:
                problems.append(f"{d}: industries missing: {', '.join(missing[:MAX_LISTED])}")
                if len(problems) > 20:
                    break
    if problems:
        raise BatchRejected(problems)
    return rows.sort_values(["date", "code"], ignore_index=True)
