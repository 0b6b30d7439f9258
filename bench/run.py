"""Run every benchmark in this folder, one after another, and print their figures.

    python bench/run.py [NAME ...]      # NAME filters: "spread" runs bench_spread.py only

Each ``bench_*.py`` runs in its own process (a clean import state, like a fresh start of the service)
with its default arguments; its output is passed through. The exit code is 1 if any benchmark failed
or missed its target (benchmarks exit non-zero for that).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(name in s.stem for name in argv)]
    if not scripts:
        print("no benchmark matches", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    results = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], cwd=REPO, env=env, check=False).returncode
        results.append((script.name, code, time.perf_counter() - t0))
        print(flush=True)
    print("== summary")
    for name, code, seconds in results:
        print(f"  {name:<28} {'ok' if code == 0 else f'FAILED (exit {code})':<16} {seconds:6.1f} s wall")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
