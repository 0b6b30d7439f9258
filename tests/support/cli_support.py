"""Helpers of the CLI tests: small CSV sources, the command as a separate process, read-only files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from jobs.market.calendar import is_fixed_holiday, shipped_trading_days
from jobs.market.sources.sample import synthetic_frame

REPO = Path(__file__).resolve().parents[2]


def write_csv(path: Path, start: date, end: date, industries: int = 12, name_prefix: str = "") -> Path:
    """The synthetic sample's closes from ``start`` to ``end`` for the first ``industries`` industries."""
    frame = synthetic_frame(end)
    days = frame["date"].map(lambda d: start <= d <= end)
    codes = sorted(frame["code"].unique())[:industries]
    rows = frame.loc[days & frame["code"].isin(codes), ["date", "code", "name", "close"]].copy()
    rows["name"] = name_prefix + rows["name"].astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False, encoding="utf-8")
    return path


def far_calendar(path: Path) -> Path:
    """A ``data.calendar_file``: the shipped trading days, then weekdays to 2035, so that no calendar
    refresh (which goes online) is due whatever today is."""
    days = list(shipped_trading_days())
    d = (days[-1] if days else date(2008, 12, 31)) + timedelta(days=1)
    while d <= date(2035, 12, 31):
        if d.weekday() < 5 and not is_fixed_holiday(d):
            days.append(d)
        d += timedelta(days=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{d}\n" for d in days), encoding="utf-8")
    return path


def write_config(path: Path, **sections: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(sections, allow_unicode=True), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def spreadwatch(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    """``spreadwatch ARGS`` as the operator runs it: a new process, its real stderr (logging included)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.pop("TELEGRAM_BOT_TOKEN", None)
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def one_line_no_traceback(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder unwritable even for root (the immutable attribute), else by its mode."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    done = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False) if chattr else None
    if done is None or done.returncode != 0:
        pytest.skip("running as root where the immutable attribute is not available: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run([str(chattr), "-i", str(path)], check=True)
