"""Users' own data: a long CSV ``date,code,name,close[,amount][,name_en]``, any set of industries.

An optional ``name_en`` column gives the industries' English names for English readers (a code's last
non-empty one counts); without it, English messages name industries by the built-in Shenwan and CITIC
English names, else as the file does.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from jobs.market.sources.base import FetchError, PriceBatch, Reread

REQUIRED = ("date", "code", "name", "close")


class CsvSource:
    synthetic = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"csv:{self.path}"
        self.label = f"CSV {self.path.name}"

    def reread(self) -> Reread:
        """The whole file again whenever it changed (its modification time or size): any row may have."""
        try:
            st = self.path.stat()
        except OSError:
            return Reread()  # the fetch says what is wrong with the file
        return Reread(stamp=f"{st.st_mtime_ns}:{st.st_size}")

    def fetch(self, since: date | None, until: date) -> PriceBatch:
        try:
            raw = pd.read_csv(self.path, dtype={"code": str, "name": str}, encoding="utf-8")
        except FileNotFoundError:
            raise FetchError(f"CSV file not found: {self.path}") from None
        except OSError as exc:  # a folder, a name too long, no permission
            raise FetchError(f"CSV file {self.path} cannot be read ({exc.strerror or exc})") from None
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise FetchError(f"CSV file {self.path} is not a readable UTF-8 CSV: {exc}") from None
        missing = [c for c in REQUIRED if c not in raw.columns]
        if missing:
            raise FetchError(
                f"CSV file {self.path} lacks column(s) {', '.join(missing)}; expected date,code,name,close"
            )
        dates = pd.to_datetime(raw["date"], errors="coerce", format="mixed")
        if dates.isna().any():
            bad = raw.loc[dates.isna(), "date"].iloc[0]
            raise FetchError(f"CSV file {self.path}: unreadable date {bad!r}")
        rows = pd.DataFrame(
            {
                "date": dates.dt.date,
                "code": raw["code"].astype(str).str.strip(),
                "name": raw["name"].astype(str).str.strip(),
                "close": pd.to_numeric(raw["close"], errors="coerce"),
                "amount": pd.to_numeric(raw["amount"], errors="coerce") if "amount" in raw.columns else float("nan"),
            }
        )
        later = rows["date"] > until
        after_until = int(later.sum())
        first_after = min(rows.loc[later, "date"]) if after_until else None
        mask = ~later
        if since is not None:
            mask &= rows["date"] > since
        rows = rows.loc[mask].reset_index(drop=True)
        declared = dict(zip(raw["code"].astype(str).str.strip(), raw["name"].astype(str).str.strip(), strict=True))
        # A CSV may span classification eras: industries come and go, so no date must hold every code.
        english: dict[str, str] = {}
        if "name_en" in raw.columns:
            given = raw[["code", "name_en"]].dropna()
            codes, names_en = given["code"].astype(str).str.strip(), given["name_en"].astype(str).str.strip()
            english = {code: name_en for code, name_en in zip(codes, names_en, strict=True) if name_en}
        return PriceBatch(
            rows=rows,
            declared=declared,
            complete=False,
            declared_en=english,
            after_until=after_until,
            first_after_until=first_after,
        )
