"""The full daily spread history from the real Shenwan data: target <= 50 ms median.

    python bench/bench_spread.py [--runs 30] [--loop-runs 3] [--csv PATH]

Loads ``../shared/data/sw_l1_daily.csv`` into a temporary store through the csv source (as
``spreadwatch backfill`` does), then times ``compute_history`` — spread, top/bottom five and percentile
of every trading day since 2010 — and, in the same run, the plain per-day loop
(``compute_snapshot_loop`` for the last day, which walks every day of the history) for the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.engine.spread import compute_history, compute_snapshot_loop
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sw_l1_daily.csv"
TARGET_MS = 50.0
START = date(2010, 1, 1)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30, help="timed runs of compute_history (median reported)")
    parser.add_argument("--loop-runs", type=int, default=3, help="timed runs of the per-day loop")
    parser.add_argument("--csv", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"no data at {args.csv}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        raw = {"data": {"source": f"csv:{args.csv}"}, "storage": {"path": str(Path(tmp) / "bench.db")}}
        settings = parse_settings(raw, "bench")
        store = Store(settings.storage.path)
        engine = Engine(settings, store)
        t0 = time.perf_counter()
        refresh = engine.refresh(date.today())
        fill_s = time.perf_counter() - t0
        if not refresh.ok:
            print(f"loading {args.csv} failed: {refresh.message}", file=sys.stderr)
            return 2
        t0 = time.perf_counter()
        closes = store.load_prices(engine.source.name)
        names = store.name_book(engine.source.name)
        load_s = time.perf_counter() - t0
        m = settings.metric

        compute_history(closes, names, m.window, m.top_k, START)  # warm-up: first-call imports and caches
        vec_s = []
        history = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            history = compute_history(closes, names, m.window, m.top_k, START)
            vec_s.append(time.perf_counter() - t0)
        assert history is not None

        last_day = closes.index[-1].date()
        loop_s = []
        loop = None
        for _ in range(args.loop_runs):
            t0 = time.perf_counter()
            loop = compute_snapshot_loop(closes, names, last_day, m.window, m.top_k, START)
            loop_s.append(time.perf_counter() - t0)
        assert loop is not None
        store.close()

    snap = history.snapshot(last_day)
    assert snap is not None
    # the two must agree, or the timing compares different work
    if abs(snap.spread - loop[0]) > 1e-9 or abs(snap.percentile - loop[1]) > 1e-9:
        print(f"MISMATCH on {last_day}: vectorised {snap.spread}/{snap.percentile}, loop {loop[0]}/{loop[1]}")
        return 1

    vec_med, loop_med = statistics.median(vec_s), statistics.median(loop_s)
    verdict = "ok" if vec_med * 1000 <= TARGET_MS else "OVER TARGET"
    print(
        f"spread history: {len(history)} trading days {history.frame.index[0].date()}..{last_day}, "
        f"{closes.shape[1]} codes, window {m.window}, k={m.top_k}"
    )
    print(f"  store fill (csv source, validated): {fill_s:.2f} s; load from store: {_ms(load_s)}")
    print(
        f"  compute_history   median {_ms(vec_med)} (min {_ms(min(vec_s))}, max {_ms(max(vec_s))}, "
        f"{args.runs} runs)  target <= {TARGET_MS:.0f} ms: {verdict}"
    )
    print(f"  per-day loop      median {_ms(loop_med)} ({args.loop_runs} runs)")
    print(f"  ratio             {loop_med / vec_med:.0f}x")
    print(f"  last day {last_day}: spread {snap.spread:.2f}, P{snap.percentile:.1f} (both agree)")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
