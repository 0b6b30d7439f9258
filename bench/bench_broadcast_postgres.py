"""The broadcast benchmark on PostgreSQL: one sender, then two senders (two instances) on one database.

    python bench/bench_broadcast_postgres.py [--subscribers 5000]

Each run starts its own throwaway PostgreSQL server (tests/support/pgcluster.py; PostgreSQL's server programs
must be installed) and prints bench_broadcast.py's figures. Targets as there: >= 28 msg/s, 0 lost,
0 duplicated, and with two senders the busiest second within Telegram's 30 messages.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=5000)
    args = parser.parse_args()
    codes = []
    for senders in (1, 2):
        print(f"-- PostgreSQL, {senders} sender(s)", flush=True)
        cmd = [sys.executable, str(HERE / "bench_broadcast.py"), "--store", "postgresql", "--senders", str(senders)]
        codes.append(subprocess.run([*cmd, "--subscribers", str(args.subscribers)], check=False).returncode)
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
