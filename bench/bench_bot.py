"""Bot latency, start-up time and memory through the fake Bot API.

    python bench/bench_bot.py [--commands 1000] [--rate 25] [--source csv:PATH|sample]

* start-up: from launching ``spreadwatch run`` (a separate process, populated store) to its first
  getUpdates at the fake server — target <= 1.0 s on an idle 2-core machine;
* latency: from a /spread update being pushed into the fake server's getUpdates queue to the bot's
  sendMessage arriving there, one command at a time — targets median <= 30 ms, p99 <= 100 ms;
* resident memory of the bot process after the run (VmRSS, and the peak VmHWM) — target <= 250 MB.

Commands are paced at ``--rate`` per second, below Telegram's 30 messages/s overall limit that the bot's
rate limiter enforces (faster pacing would measure that limiter's queue, not the bot). Exit code 1 if
a target is missed.
"""

from __future__ import annotations

import argparse
import compileall
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.fakebot import FakeBotAPI, command_update  # noqa: E402

from jobs.config.settings import parse_settings  # noqa: E402
from jobs.engine.pipeline import Engine  # noqa: E402
from jobs.store.datastore import Store  # noqa: E402

SW = REPO.parent / "shared" / "data" / "sw_l1_daily.csv"
TOKEN_ENV = "SPREADWATCH_BENCH_TOKEN"
TARGETS = {"startup_s": 1.0, "median_ms": 30.0, "p99_ms": 100.0, "rss_mb": 250.0}


def proc_memory_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()

    def mb(key: str) -> float:
        return float(fields.get(key, "0 kB").split()[0]) / 1024

    return mb("VmRSS"), mb("VmHWM")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=25.0, help="commands per second (default 25)")
    parser.add_argument("--source", default=f"csv:{SW}" if SW.exists() else "sample")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:
        db = Path(tmp) / "bench.db"
        settings = parse_settings({"data": {"source": args.source}, "storage": {"path": str(db)}}, "bench")
        t0 = time.perf_counter()
        result = Engine(settings, Store(db)).update()
        print(f"store: {args.source}, {result.snapshots_written} snapshots in {time.perf_counter() - t0:.1f} s")

        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"lang: en\ndata:\n  source: '{args.source}'\nstorage:\n  path: '{db}'\n"
            f"telegram:\n  token_env: {TOKEN_ENV}\n  base_url: '{fake.base_url}'\n"
            f"  base_file_url: '{fake.base_file_url}'\n",
            encoding="utf-8",
        )
        # the bytecode an installed package has (pip compiles it at install): with PYTHONDONTWRITEBYTECODE set,
        # as on these machines, every start would otherwise compile the sources again (about 0.15 s)
        for package in ("bot", "jobs"):
            compileall.compile_dir(REPO / package, quiet=1)
        env = {**os.environ, TOKEN_ENV: "123456:BENCH", "PYTHONPATH": str(REPO)}
        launched = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            first = fake.wait_calls("getUpdates", 1, timeout=60)[0]
            startup = first.time - launched
            print(f"start-up to first getUpdates: {startup:.2f} s (target <= {TARGETS['startup_s']:.1f} s)")

            # warm-up: first answers pay for lazy imports and caches
            for i in range(10):
                mark = fake.call_count()
                fake.push(command_update("/spread", chat_id=10_000 + i))
                fake.wait_sent(1, chat_id=10_000 + i, since=mark, timeout=30)

            latencies: list[float] = []
            interval = 1.0 / args.rate
            next_at = time.monotonic()
            began = time.monotonic()
            for i in range(args.commands):
                chat_id = 20_000 + i % 500
                now = time.monotonic()
                if next_at > now:
                    time.sleep(next_at - now)
                next_at += interval
                mark = fake.call_count()
                update_id = fake.push(command_update("/spread", chat_id=chat_id))
                (sent,) = fake.wait_sent(1, chat_id=chat_id, since=mark, timeout=30)[:1]
                latencies.append((sent.time - fake.pushed_at[update_id]) * 1000)
            elapsed = time.monotonic() - began
            rss, peak = proc_memory_mb(proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    med, p99 = statistics.median(latencies), percentile(latencies, 99)
    print(
        f"/spread -> sendMessage over {len(latencies)} commands at {len(latencies) / elapsed:.1f}/s: "
        f"median {med:.1f} ms (target <= {TARGETS['median_ms']:.0f}), p90 {percentile(latencies, 90):.1f} ms, "
        f"p99 {p99:.1f} ms (target <= {TARGETS['p99_ms']:.0f}), max {max(latencies):.1f} ms"
    )
    print(f"bot resident memory: {rss:.0f} MB now, {peak:.0f} MB peak (target <= {TARGETS['rss_mb']:.0f} MB)")
    missed = [
        name
        for name, ok in (
            ("start-up", startup <= TARGETS["startup_s"]),
            ("median", med <= TARGETS["median_ms"]),
            ("p99", p99 <= TARGETS["p99_ms"]),
            ("memory", peak <= TARGETS["rss_mb"]),
        )
        if not ok
    ]
    print("targets: " + ("all met" if not missed else "MISSED " + ", ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
