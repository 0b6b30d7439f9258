"""Fetching the regime scenarios' inputs through akshare, with the index data's resilience.

Every call goes through ``call_upstream`` (timeout, retries with backoff, akshare imported only
here, only when a fetch runs). Every batch is validated whole before it is stored; a rejected or
failed batch leaves the last good data in place and is recorded in ``fetch_log`` (source
``akshare``, kind = the input's name), where ``/regime`` and the CLI read the last error from.

Schedules: the PMI is fetched once the next month's release day has come (its last day), PPI from
the 10th of the following month; the Shenwan daily analysis and the concept boards with the daily
job, each only if the day is not stored yet.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd

from jobs.config.settings import Settings
from jobs.market.sources.base import FetchError
from jobs.market.sources.upstream import akshare, call_upstream
from jobs.regimes.breadth import BoardPoint
from jobs.regimes.macro import ppi_release_day, release_day
from jobs.regimes.repo import RegimeRepo
from jobs.store.datastore import FetchRecord, Store, now_iso

log = logging.getLogger(__name__)

SOURCE = "akshare"
MONTH_RE = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月")
PMI_RANGE = (20.0, 80.0)  # the lowest print ever was 35.7 (2020-02)
PPI_YOY_RANGE = (-30.0, 50.0)
MARKET_CAP_RANGE = (1e12, 1e16)  # yuan; the A-share market is ~1e14


class InputRejected(Exception):
    """A fetched batch failed validation; nothing of it is stored."""


@dataclass(frozen=True)
class InputRefresh:
    kind: str
    ok: bool
    rows: int
    last_date: date | None
    message: str


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _call(settings: Settings, what: str, fn_name: str, **kwargs: Any) -> Any:
    ak = akshare()
    d = settings.data
    return call_upstream(
        what,
        getattr(ak, fn_name),
        timeout_s=d.fetch_timeout_s,
        retries=d.fetch_retries,
        backoff_s=d.backoff_s,
        **kwargs,
    )


def _frame(df: Any, what: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame) or df.empty:
        raise FetchError(f"{what}: empty response")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FetchError(f"{what}: response lacks column(s) {', '.join(missing)}")
    return df


# -- parsing and validation (pure) -------------------------------------------------------------
def parse_monthly(
    df: pd.DataFrame, month_col: str, value_col: str, plausible: tuple[float, float], today: date
) -> list[tuple[date, float]]:
    """(first day of month, value), ascending; raises InputRejected naming every problem."""
    problems: list[str] = []
    points: list[tuple[date, float]] = []
    for label, raw in zip(df[month_col], df[value_col], strict=True):
        m = MONTH_RE.match(str(label))
        value = pd.to_numeric(raw, errors="coerce")
        if m is None or not 1 <= int(m.group(2)) <= 12:
            problems.append(f"unreadable month {label!r}")
            continue
        month = date(int(m.group(1)), int(m.group(2)), 1)
        if pd.isna(value) or not plausible[0] <= float(value) <= plausible[1]:
            problems.append(f"{month:%Y-%m}: implausible value {raw!r}")
            continue
        if month > today:
            problems.append(f"{month:%Y-%m}: a month in the future")
            continue
        points.append((month, float(value)))
    months = [m for m, _ in points]
    if len(set(months)) != len(months):
        problems.append("duplicate months")
    if problems:
        raise InputRejected("; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""))
    return sorted(points)


def parse_analysis(df: pd.DataFrame, until: date) -> pd.DataFrame:
    """Rows date, code, name, share, pe, pb of level-1 industries, up to ``until``."""
    rows = pd.DataFrame(
        {
            "date": pd.to_datetime(df["发布日期"], errors="coerce").dt.date,
            "code": df["指数代码"].astype(str).str.strip(),
            "name": df["指数名称"].astype(str).str.strip(),
            "share": pd.to_numeric(df["成交额占比"], errors="coerce"),
            "pe": pd.to_numeric(df["市盈率"], errors="coerce"),
            "pb": pd.to_numeric(df["市净率"], errors="coerce"),
        }
    )
    problems: list[str] = []
    if rows["date"].isna().any():
        problems.append(f"{int(rows['date'].isna().sum())} row(s) without a readable date")
    bad_code = ~rows["code"].str.fullmatch(r"\d{6}")
    if bad_code.any():
        problems.append(f"malformed index code(s) {', '.join(rows.loc[bad_code, 'code'].head(3))}")
    if rows["share"].isna().any() or not rows["share"].between(0, 100).all():
        problems.append("turnover share missing or outside 0-100%")
    if (rows["pe"].abs() > 10000).any() or (rows["pb"] < 0).any() or (rows["pb"] > 1000).any():
        problems.append("implausible PE or PB")
    if problems:
        raise InputRejected("; ".join(problems))
    rows = rows.loc[rows["date"] <= until]
    if rows.duplicated(["date", "code"]).any():
        raise InputRejected("duplicate (date, code) rows")
    per_day = rows.groupby("date")["code"].nunique()
    thin = per_day[per_day < per_day.max()]
    if not thin.empty:
        raise InputRejected(f"{len(thin)} day(s) with fewer industries than the others, e.g. {thin.index[0]}")
    share_sum = rows.groupby("date")["share"].sum()
    if not share_sum.between(80, 120).all():  # level-1 industries partition the market
        raise InputRejected(f"turnover shares do not add up to ~100% (e.g. {share_sum.iloc[0]:.1f})")
    return rows.sort_values(["date", "code"], ignore_index=True)


# -- fetchers ----------------------------------------------------------------------------------
def fetch_pmi(settings: Settings, today: date) -> list[tuple[date, float]]:
    df = _frame(_call(settings, "macro_china_pmi", "macro_china_pmi"), "macro_china_pmi", ("月份", "制造业-指数"))
    return parse_monthly(df, "月份", "制造业-指数", PMI_RANGE, today)


def fetch_ppi(settings: Settings, today: date) -> list[tuple[date, float]]:
    df = _frame(_call(settings, "macro_china_ppi", "macro_china_ppi"), "macro_china_ppi", ("月份", "当月同比增长"))
    return parse_monthly(df, "月份", "当月同比增长", PPI_YOY_RANGE, today)


def fetch_analysis(settings: Settings, start: date, end: date) -> pd.DataFrame:
    what = f"index_analysis_daily_sw({start}..{end})"
    df = _call(
        settings,
        what,
        "index_analysis_daily_sw",
        symbol="一级行业",
        start_date=start.strftime("%Y%m%d"),
        end_date=end.strftime("%Y%m%d"),
    )
    return parse_analysis(_frame(df, what, ("发布日期", "指数代码", "指数名称", "成交额占比", "市盈率", "市净率")), end)


def fetch_market_cap(settings: Settings) -> float:
    """Total A-share market cap: EastMoney's industry boards partition the listed A shares."""
    what = "stock_board_industry_name_em"
    df = _frame(_call(settings, what, what), what, ("板块名称", "总市值"))
    caps = pd.to_numeric(df["总市值"], errors="coerce")
    if caps.isna().any() or (caps < 0).any():
        raise InputRejected(f"{what}: missing or negative market caps")
    total = float(caps.sum())
    if not MARKET_CAP_RANGE[0] <= total <= MARKET_CAP_RANGE[1]:
        raise InputRejected(f"{what}: implausible total market cap {total:.3g} yuan")
    return total


def _forget_board_list() -> None:
    """akshare caches the concept board list for the life of the process (lru_cache): a long-running
    service would read the same market caps forever, so the cache is dropped before each fetch."""
    import importlib

    module = importlib.import_module("akshare.stock.stock_board_concept_em")
    cached = getattr(module, "__stock_board_concept_name_em", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def fetch_board(settings: Settings, name: str, day: date, market_cap: float) -> BoardPoint:
    what = "stock_board_concept_name_em"
    akshare()  # the module below is only importable once akshare is
    _forget_board_list()
    boards = _frame(_call(settings, what, what), what, ("板块名称", "总市值"))
    row = boards.loc[boards["板块名称"].astype(str) == name]
    if row.empty:
        raise InputRejected(f"concept board {name!r} not found upstream")
    cap = pd.to_numeric(row["总市值"].iloc[0], errors="coerce")
    what = f"stock_board_concept_cons_em({name})"
    cons = _frame(_call(settings, what, "stock_board_concept_cons_em", symbol=name), what, ("代码",))
    count = int(cons["代码"].astype(str).nunique())
    if pd.isna(cap) or cap <= 0 or cap > market_cap:
        raise InputRejected(f"{name}: implausible board market cap {cap!r}")
    return BoardPoint(name, day, count, float(cap), market_cap)


# -- refresh -----------------------------------------------------------------------------------
def _run(store: Store, kind: str, last: date | None, job: Callable[[], tuple[int, date | None]]) -> InputRefresh:
    started = now_iso()
    try:
        rows, newest = job()
    except (FetchError, InputRejected) as exc:
        message = str(exc)
        log.error("regime input %s: %s; keeping the last good data (up to %s)", kind, message, last)
        store.log_fetch(FetchRecord(SOURCE, kind, started, now_iso(), False, 0, last, message))
        return InputRefresh(kind, False, 0, last, message)
    message = f"{rows} new row(s)" if rows else "no new data"
    store.log_fetch(FetchRecord(SOURCE, kind, started, now_iso(), True, rows, newest, message))
    return InputRefresh(kind, True, rows, newest, message)


def fetch_enabled(settings: Settings) -> bool:
    mode = settings.regimes.fetch
    return mode == "always" or (mode == "auto" and settings.data.source == "akshare")


def _fetched_ok_on(store: Store, kind: str, day: date) -> bool:
    rec = store.last_fetch(SOURCE, kind, ok=True)
    return rec is not None and rec.started_at[:10] >= day.isoformat()


def refresh_regime_inputs(store: Store, settings: Settings, today: date, *, force: bool = False) -> list[InputRefresh]:
    """Fetch whichever regime inputs are due on ``today``; the daily job calls this after the prices."""
    if not fetch_enabled(settings):
        return []
    repo = RegimeRepo(store)
    r = settings.regimes
    out: list[InputRefresh] = []

    series: list[tuple[str, Callable[[Settings, date], list[tuple[date, float]]], Callable[[date], date]]] = [
        ("pmi", fetch_pmi, release_day)
    ]
    if r.macro.use_ppi or r.reversal.ppi_rising_months:
        series.append(("ppi_yoy", fetch_ppi, ppi_release_day))
    for kind, fetch, released in series:
        last = repo.last_month(kind)
        due = last is None or today >= released(_next_month(last))
        if force or (due and not _fetched_ok_on(store, kind, today)):

            def job(
                kind: str = kind, fetch: Callable[[Settings, date], list[tuple[date, float]]] = fetch
            ) -> tuple[int, date | None]:
                points = fetch(settings, today)
                return repo.save_series(kind, points), repo.last_month(kind)

            out.append(_run(store, kind, last, job))

    last_day = repo.last_analysis_date()
    if force or last_day is None or last_day < today:
        start = (last_day + timedelta(days=1)) if last_day else today - timedelta(days=r.heat.analysis_backfill_days)

        def analysis_job() -> tuple[int, date | None]:
            rows = fetch_analysis(settings, start, today)
            return (repo.save_analysis(rows) if not rows.empty else 0), repo.last_analysis_date()

        out.append(_run(store, "sw_analysis", last_day, analysis_job))

    due_boards = [b for b in r.boards if force or (repo.last_board_date(b.name) or date.min) < today]
    if due_boards:
        market: list[float] = []

        def market_job() -> tuple[int, date | None]:
            market.append(fetch_market_cap(settings))
            return 1, today

        out.append(_run(store, "market_cap", None, market_job))
        for b in due_boards:
            kind = f"board:{b.name}"
            if not market:
                store.log_fetch(
                    FetchRecord(
                        SOURCE,
                        kind,
                        now_iso(),
                        now_iso(),
                        False,
                        0,
                        repo.last_board_date(b.name),
                        "no total market cap",
                    )
                )
                out.append(InputRefresh(kind, False, 0, repo.last_board_date(b.name), "no total market cap"))
                continue

            def board_job(name: str = b.name) -> tuple[int, date | None]:
                repo.save_board(fetch_board(settings, name, today, market[0]))
                return 1, today

            out.append(_run(store, kind, repo.last_board_date(b.name), board_job))
    return out
