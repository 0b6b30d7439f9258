"""The whole regime history since 2010 on the shared files: target < 2 s.

    python bench/bench_regime_history.py [--runs 5]

Measures what ``spreadwatch regime --history --no-refresh`` computes on a populated store, with the PMI
and the turnover per industry read from the shared files (``regimes.inputs``): open the store, read and
validate the files, evaluate the four scenarios and the composite on every stored trading day, each as
of itself. The first fill of the store (the CSV's import and every day's spread) is timed too but is not
part of the target: it happens once.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from jobs.config.settings import parse_settings
from jobs.engine.pipeline import Engine
from jobs.regimes.file_inputs import forget_cached_files, load_file_inputs
from jobs.regimes.history import build_history
from jobs.store.datastore import Store

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET_S = 2.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    files = [DATA / "sw_l1_daily.csv", DATA / "cn_pmi_monthly.csv", DATA / "sw_l1_amount_daily.csv"]
    if not all(f.exists() for f in files):
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        raw = {
            "data": {"source": f"csv:{files[0]}"},
            "storage": {"path": str(Path(tmp) / "bench.db")},
            "regimes": {"inputs": {"pmi": f"csv:{files[1]}", "amount": f"csv:{files[2]}"}},
        }
        settings = parse_settings(raw, "bench")
        t0 = time.perf_counter()
        Engine(settings, Store(settings.storage.path)).update()
        first_fill = time.perf_counter() - t0

        whole, cpu, read_s = [], [], []
        history = None
        for _ in range(args.runs):
            forget_cached_files()
            t0, c0 = time.perf_counter(), time.process_time()
            store = Store(settings.storage.path)  # a fresh process's view: new connection, nothing cached
            inputs = load_file_inputs(settings.regimes.inputs)
            t1 = time.perf_counter()
            history = build_history(store, settings, settings.data.source, files=inputs)
            whole.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            read_s.append(t1 - t0)
            store.close()

    assert history is not None
    for s in history.stats():
        counts = "  ".join(f"{k} {s[k]:>5}" for k in ("on", "watch", "off", "unknown"))
        print(f"  {s['scenario']:<10} {counts}")
    print(f"days: {len(history.days)} ({history.first} .. {history.last}), runs: {args.runs}")
    print(f"first fill of the store (once, not in the target): {first_fill:.2f} s")
    print(f"read and validate the input files: median {statistics.median(read_s) * 1000:7.1f} ms")
    print(f"CPU time of the whole history: median {statistics.median(cpu):.3f} s (wall - CPU = waiting for a core)")
    med = statistics.median(whole)
    ok = med <= TARGET_S
    verdict = "OK" if ok else "MISSED"
    print(f"whole history: median {med:.3f} s, max {max(whole):.3f} s; target < {TARGET_S:.1f} s: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
