"""The whole backtest, 2010 to the end of the real Shenwan data: target <= 2 s.

    python bench/bench_backtest.py [--runs 5] [--csv PATH]

Measures what ``spreadwatch backtest`` does on a populated store — refresh (nothing new), replay the
configured rules over every stored day, forward figures from the stored closes — plus the parts on
their own, and prints the backtest's figures. The first fill of the store (import of the CSV and the
spread history of every day) is timed too but is not part of the target: it happens once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bot.cli.backtest_cli import format_table
from jobs.config.settings import parse_settings
from jobs.engine.backtest import load_backtest, replay_episodes
from jobs.engine.pipeline import Engine
from jobs.engine.rules import params_from_settings
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"
TARGET_S = 2.0
START = date(2010, 1, 1)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--csv", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"no data at {args.csv}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        raw = {"data": {"source": f"csv:{args.csv}"}, "storage": {"path": str(Path(tmp) / "bench.db")}}
        settings = parse_settings(raw, "bench")
        params = params_from_settings(settings.alerts)

        t0 = time.perf_counter()
        Engine(settings, Store(settings.storage.path)).update()
        first_fill = time.perf_counter() - t0

        whole, update_s, load_s, replay_s = [], [], [], []
        result = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            engine = Engine(settings, Store(settings.storage.path))  # a fresh process's view: new connection
            engine.update()
            t1 = time.perf_counter()
            result = load_backtest(engine.store, engine.source.name, params, START)
            t2 = time.perf_counter()
            whole.append(t2 - t0)
            update_s.append(t1 - t0)
            load_s.append(t2 - t1)
            series = engine.store.spread_series(engine.source.name)
            t3 = time.perf_counter()
            replay_episodes(series, params, START)
            replay_s.append(time.perf_counter() - t3)
            engine.store.close()

    assert result is not None
    print(format_table(result))
    print()
    med = statistics.median(whole)
    print(f"days replayed: {len(series)} ({result.first_day} .. {result.last_day}), runs: {args.runs}")
    print(f"first fill of the store (once, not in the target): {first_fill:.2f} s")
    print(f"refresh with nothing new:  median {statistics.median(update_s) * 1000:7.1f} ms")
    print(f"backtest from the store:   median {statistics.median(load_s) * 1000:7.1f} ms")
    print(f"  of which rule replay:    median {statistics.median(replay_s) * 1000:7.1f} ms")
    print(
        f"whole (refresh + backtest): median {med:.3f} s, max {max(whole):.3f} s; target <= {TARGET_S:.1f} s: ", end=""
    )
    print("OK" if max(whole) <= TARGET_S else "MISSED")
    return 0 if max(whole) <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
