"""Many ``spreadwatch`` invocations, each its own process, without paying the imports for each.

Run as a script (``python tests/support/fork_runner.py``), with a JSON list of invocations on stdin::

    [{"id": "...", "argv": [...], "cwd": "...", "env": {...}, "timeout": 60}, ...]

It imports ``bot.cli.main`` (and Apprise's plugins) once, then forks one child per invocation
(``jobs`` at a time). The child points its stdout and stderr at files, takes the invocation's folder
and environment, and does what ``python -m bot.cli ARGV`` does after its imports: ``main(argv)``, an
exception that escapes it printed as the interpreter prints it (a traceback, exit 1). No command ran
in the parent before the fork, so every child starts as a fresh ``spreadwatch`` would: no cached
calendar, no logging set up, no open store.
A child that outlives its timeout is killed and reported with code null.

The answer on stdout is a JSON list of ``{"id", "code", "out", "err", "seconds"}`` in the order given.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

# one thread per process in the numerical libraries: the parent must hold no thread when it forks
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from bot.cli.main import main  # noqa: E402  (after the thread settings above)
from jobs.config.notify_settings import plugin_formats  # noqa: E402

# Apprise imports its plugins on first use (about a second): done here once, as the imports are
plugin_formats("json://localhost/")


def _child(case: dict[str, Any], out_path: str, err_path: str) -> None:
    code = 1
    try:
        for fd, path in ((1, out_path), (2, err_path)):
            target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(case["cwd"])
        os.environ.clear()
        os.environ.update(case["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            code = main(case["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if exc.code is not None and not isinstance(exc.code, int):
                print(exc.code, file=sys.stderr)
        except BaseException:  # as the interpreter does with what escapes main
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the process ends either way
                stream.flush()
        os._exit(code)


def run_all(cases: list[dict[str, Any]], jobs: int) -> list[dict[str, Any]]:
    assert threading.active_count() == 1, "the parent must not fork while it runs threads"
    folder = tempfile.mkdtemp(prefix="fork-runner-")
    results: dict[str, dict[str, Any]] = {}
    running: dict[int, tuple[dict[str, Any], float, str, str]] = {}
    queue = list(enumerate(cases))
    while queue or running:
        while queue and len(running) < jobs:
            n, case = queue.pop(0)
            out_path, err_path = os.path.join(folder, f"{n}.out"), os.path.join(folder, f"{n}.err")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(case, out_path, err_path)
            running[pid] = (case, time.monotonic(), out_path, err_path)
        time.sleep(0.005)
        for pid, (case, started, out_path, err_path) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            code: int | None
            if done == 0:
                if time.monotonic() < started + float(case.get("timeout", 60)):
                    continue
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                code = None
            else:
                code = os.waitstatus_to_exitcode(status)
            del running[pid]
            with open(out_path, encoding="utf-8", errors="replace") as f_out:
                out = f_out.read()
            with open(err_path, encoding="utf-8", errors="replace") as f_err:
                err = f_err.read()
            seconds = round(time.monotonic() - started, 3)
            results[case["id"]] = {"id": case["id"], "code": code, "out": out, "err": err, "seconds": seconds}
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)
    return [results[c["id"]] for c in cases]


if __name__ == "__main__":
    jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    print(json.dumps(run_all(json.load(sys.stdin), jobs)))
