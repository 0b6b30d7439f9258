"""Regime inputs from files (``regimes.inputs``): the PMI by month, turnover and PE per industry and day.

Each file is validated whole, as the price CSV is; a problem raises ``InputFileError`` whose text is one
line naming the setting and the file. A file is read once per change (keyed by its size and mtime):
the regime history evaluates thousands of days from the same frames.

When a month's PMI became usable: its ``release_date`` when the file has that column, else the first
calendar day of the following month. Never earlier: a file without release dates cannot claim that a
month was known on the day it was published, so it is taken one day late rather than one day early.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from jobs.config.regime_settings import InputFiles
from jobs.regimes.heat import HOLE_DAYS as GAP_DAYS
from jobs.regimes.inputs import PMI_RANGE

MONTH_RE = re.compile(r"^\d{4}-\d{2}$")
PE_LIMIT = 10000.0  # as the Shenwan analysis: beyond it a PE is a data error, not a valuation
MAX_SHOWN = 3


class InputFileError(Exception):
    """A regime input file that cannot be used; ``str()`` is the one-line message."""


@dataclass(frozen=True)
class PmiFile:
    path: Path
    series: pd.Series  # value by the first day of the reference month, ascending
    known_from: dict[date, date]  # reference month -> first day the value may be used
    has_release_dates: bool

    @property
    def label(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class PanelFile:
    """Dates x codes values (turnover or PE) and the stretches the file has no rows for."""

    path: Path
    kind: str
    wide: pd.DataFrame
    gaps: tuple[tuple[date, date], ...]  # (last day before, first day after) of each hole > GAP_DAYS

    @property
    def label(self) -> str:
        return self.path.name

    @property
    def first(self) -> date:
        return self.wide.index[0].date()

    @property
    def last(self) -> date:
        return self.wide.index[-1].date()


@dataclass(frozen=True)
class FileInputs:
    pmi: PmiFile | None = None
    amount: PanelFile | None = None
    pe: PanelFile | None = None

    @property
    def any(self) -> bool:
        return self.pmi is not None or self.amount is not None or self.pe is not None


def next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _shown(values: list[str]) -> str:
    more = f" (+{len(values) - MAX_SHOWN} more)" if len(values) > MAX_SHOWN else ""
    return ", ".join(repr(v) for v in values[:MAX_SHOWN]) + more


def _read(key: str, path: Path, columns: tuple[str, ...], expected: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False)
    except FileNotFoundError:
        raise InputFileError(f"{key}: CSV file not found: {path}") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, IsADirectoryError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputFileError(f"{key}: CSV file {path} is not a readable UTF-8 CSV: {reason}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise InputFileError(f"{key}: CSV file {path} lacks column(s) {', '.join(missing)}; expected {expected}")
    if raw.empty:
        raise InputFileError(f"{key}: CSV file {path} has no rows")
    return raw


def parse_pmi(key: str, path: Path) -> PmiFile:
    raw = _read(key, path, ("month", "pmi"), "month,pmi[,release_date]")
    labels = raw["month"].str.strip()
    bad = [m for m in labels if not MONTH_RE.match(m) or not 1 <= int(m[5:]) <= 12]
    if bad:
        raise InputFileError(f"{key}: CSV file {path}: unreadable month(s) {_shown(bad)}; expected YYYY-MM")
    months = [date(int(m[:4]), int(m[5:]), 1) for m in labels]
    dup = sorted({m for m in labels if (labels == m).sum() > 1})
    if dup:
        raise InputFileError(f"{key}: CSV file {path}: duplicate month(s) {_shown(dup)}")
    values = pd.to_numeric(raw["pmi"].str.strip(), errors="coerce")
    wrong = [
        f"{lab}: {v!r}"
        for lab, v, x in zip(labels, raw["pmi"], values, strict=True)
        if pd.isna(x) or not PMI_RANGE[0] <= float(x) <= PMI_RANGE[1]
    ]
    if wrong:
        raise InputFileError(
            f"{key}: CSV file {path}: PMI not a number in {PMI_RANGE[0]:g}-{PMI_RANGE[1]:g}: {', '.join(wrong[:3])}"
        )
    has_release = "release_date" in raw.columns
    known: dict[date, date] = {}
    for label, month, text in zip(
        labels, months, raw["release_date"] if has_release else [""] * len(months), strict=True
    ):
        if not has_release:
            known[month] = next_month(month)
            continue
        try:
            released = date.fromisoformat(str(text).strip())
        except ValueError:
            raise InputFileError(f"{key}: CSV file {path}: {label}: unreadable release_date {text!r}") from None
        if released < month:
            raise InputFileError(f"{key}: CSV file {path}: {label}: release_date {released} before the month itself")
        known[month] = released
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex([pd.Timestamp(m) for m in months]))
    return PmiFile(path, series.sort_index(), known, has_release)


def parse_panel(key: str, path: Path, column: str) -> PanelFile:
    raw = _read(key, path, ("date", "code", "name", column), f"date,code,name,{column}")
    dates = pd.to_datetime(raw["date"].str.strip(), errors="coerce", format="%Y-%m-%d")
    if dates.isna().any():
        raise InputFileError(
            f"{key}: CSV file {path}: unreadable date(s) {_shown(list(raw.loc[dates.isna(), 'date']))}"
        )
    codes = raw["code"].str.strip()
    if (codes == "").any():
        raise InputFileError(f"{key}: CSV file {path}: {int((codes == '').sum())} row(s) without a code")
    values = pd.to_numeric(raw[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    if column == "amount":
        bad = ~np.isfinite(values) | (values <= 0)
        what = "turnover is not a positive number"
    else:
        bad = ~np.isfinite(values) | (np.abs(values) > PE_LIMIT)
        what = f"PE is not a number within +-{PE_LIMIT:g}"
    if bad.any():
        rows = [f"{c} on {d.date()}" for c, d in zip(codes[bad], dates[bad], strict=True)]
        raise InputFileError(f"{key}: CSV file {path}: {what}: {', '.join(rows[:MAX_SHOWN])}")
    long = pd.DataFrame({"date": dates, "code": codes, "v": values})
    dup = long.duplicated(["date", "code"], keep=False)
    if dup.any():
        rows = [
            f"{c} on {d.date()}" for c, d in long.loc[dup, ["code", "date"]].drop_duplicates().itertuples(index=False)
        ]
        raise InputFileError(f"{key}: CSV file {path}: duplicate date(s): {', '.join(rows[:MAX_SHOWN])}")
    wide = long.pivot(index="date", columns="code", values="v").sort_index().astype(float)
    wide.columns = wide.columns.astype(str)
    wide.index = pd.DatetimeIndex(wide.index)
    days = wide.index
    steps = np.diff(days.to_numpy()).astype("timedelta64[D]").astype(int) if len(days) > 1 else np.array([])
    gaps = tuple((days[i].date(), days[i + 1].date()) for i in np.flatnonzero(steps > GAP_DAYS))
    return PanelFile(path, column, wide, gaps)


_CACHE: dict[tuple[str, str], tuple[tuple[int, int], object]] = {}
_CACHE_LOCK = threading.Lock()


def _cached(kind: str, path: Path, load: object) -> object:
    stamp = _stamp(path)
    key = (kind, str(path))
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == stamp and stamp != (-1, -1):
            return hit[1]
    assert callable(load)
    value = load()
    with _CACHE_LOCK:
        _CACHE[key] = (stamp, value)
    return value


def forget_cached_files() -> None:
    """Drop every cached file (a benchmark measuring a fresh process's first read)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def load_file_inputs(files: InputFiles) -> FileInputs:
    """Every configured file, validated; raises ``InputFileError`` on the first unusable one."""
    pmi = amount = pe = None
    if (p := files.path("pmi")) is not None:
        pmi = _cached("pmi", p, lambda p=p: parse_pmi("regimes.inputs.pmi", p))
    if (p := files.path("amount")) is not None:
        amount = _cached("amount", p, lambda p=p: parse_panel("regimes.inputs.amount", p, "amount"))
    if (p := files.path("pe")) is not None:
        pe = _cached("pe", p, lambda p=p: parse_panel("regimes.inputs.pe", p, "pe"))
    assert pmi is None or isinstance(pmi, PmiFile)
    assert amount is None or isinstance(amount, PanelFile)
    assert pe is None or isinstance(pe, PanelFile)
    return FileInputs(pmi, amount, pe)


def files_signature(files: InputFiles) -> tuple[tuple[str, str, tuple[int, int]], ...]:
    """Each configured input file's path with the stamp ``_cached`` keys on: changes when a file is
    edited or replaced, for caching what is computed from them."""
    return tuple((kind, str(p), _stamp(p)) for kind in ("pmi", "amount", "pe") if (p := files.path(kind)) is not None)


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def describe(inputs: FileInputs) -> list[str]:
    """One line per file for ``check-config``: span, rows and holes."""
    out: list[str] = []
    if inputs.pmi is not None:
        p = inputs.pmi
        first, last = p.series.index[0], p.series.index[-1]
        when = "release_date column" if p.has_release_dates else "from the 1st of the following month"
        out.append(
            f"regimes.inputs.pmi: {p.path} ({first:%Y-%m} .. {last:%Y-%m}, {len(p.series)} months; known {when})"
        )
    for key, f in (("amount", inputs.amount), ("pe", inputs.pe)):
        if f is None:
            continue
        holes = "; ".join(f"no rows {a + timedelta(days=1)} .. {b - timedelta(days=1)}" for a, b in f.gaps)
        out.append(
            f"regimes.inputs.{key}: {f.path} ({f.first} .. {f.last}, {len(f.wide)} days, {f.wide.shape[1]} codes"
            + (f"; {holes}" if holes else "")
            + ")"
        )
    return out
