"""Another chat's /spread latency while one chat floods the bot, through the fake Bot API.

    python bench/bench_flood.py [--flood 500] [--probes 200] [--rate 20] [--source csv:PATH|sample]

``spreadwatch run`` runs as a separate process with the default ``telegram`` settings (a bucket of 10
commands per chat, refilled at 20 a minute; two heavy commands at once). Each scenario pushes
``--flood`` commands from one chat into the fake server's getUpdates queue at once, and meanwhile sends
``--probes`` /spread commands from other private chats, one at a time at ``--rate`` per second
(spread over many chats, so that no probe chat meets its own limit). Scenarios:

* one private chat sends ``/history all`` (a chart each: heavy);
* one group sends ``/spread`` (Telegram lets the bot send a group 20 messages a minute, and the bot's
  rate limiter waits for that: before the per-chat limit, those waits held every update slot);
* one group sends ``/regime`` (heavy).

Figures: the probes' latency from push to the bot's sendMessage at the fake server (median, p90, p99,
max), and what the flooding chat got (answers, "too many requests" notices, when its last message
arrived). Targets: probes' p99 <= 1 s; the flooding chat gets at most ``command_burst`` answers, plus
what its bucket refills while the scenario lasts, plus one notice. Exit code 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.fakebot import Call, FakeBotAPI, command_update  # noqa: E402

from jobs.config.settings import TelegramSettings, parse_settings  # noqa: E402
from jobs.engine.pipeline import Engine  # noqa: E402
from jobs.store.datastore import Store  # noqa: E402

SW = REPO.parent / "shared" / "data" / "sw_l1_daily.csv"
TOKEN_ENV = "SPREADWATCH_BENCH_TOKEN"
P99_TARGET_MS = 1000.0
DEFAULTS = TelegramSettings()
NOTICE = "Too many requests"


@dataclass
class Scenario:
    name: str
    chat_id: int
    command: str


SCENARIOS = [
    Scenario("one private chat, /history all", 31_001, "/history all"),
    Scenario("one group, /spread", -1_000_031_002, "/spread"),
    Scenario("one group, /regime", -1_000_031_003, "/regime"),
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def probe(fake: FakeBotAPI, chat_id: int) -> float:
    mark = fake.call_count()
    update_id = fake.push(command_update("/spread", chat_id=chat_id))
    (sent,) = fake.wait_sent(1, chat_id=chat_id, since=mark, timeout=120)[:1]
    return (sent.time - fake.pushed_at[update_id]) * 1000


def texts(calls: list[Call]) -> list[str]:
    return [str(c.params.get("text") or c.params.get("caption") or "") for c in calls]


def run_scenario(fake: FakeBotAPI, scenario: Scenario, flood: int, probes: int, rate: float, first_probe: int) -> bool:
    mark = fake.call_count()
    began = time.monotonic()
    for _ in range(flood):
        fake.push(command_update(scenario.command, chat_id=scenario.chat_id))
    latencies: list[float] = []
    interval, next_at = 1.0 / rate, time.monotonic()
    for i in range(probes):
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        next_at += interval
        latencies.append(probe(fake, first_probe + i % 100))
    window = time.monotonic() - began
    # everything the flooding chat gets arrives within the window: wait for its last message to be sure
    fake.wait_idle(quiet=1.0, timeout=120)
    got = fake.sent(chat_id=scenario.chat_id, since=mark)
    notices = sum(NOTICE in t for t in texts(got))
    answers = len(got) - notices
    last = (max(c.time for c in got) - began) if got else 0.0
    bound = DEFAULTS.command_burst + math.ceil(DEFAULTS.commands_per_minute * window / 60)
    med, p99 = statistics.median(latencies), percentile(latencies, 99)
    print(f"-- {scenario.name}: {flood} commands at once")
    print(
        f"   other chats' /spread over {len(latencies)} probes in {window:.1f} s: median {med:.1f} ms, "
        f"p90 {percentile(latencies, 90):.1f} ms, p99 {p99:.1f} ms (target <= {P99_TARGET_MS:.0f}), "
        f"max {max(latencies):.1f} ms"
    )
    print(
        f"   flooding chat: {answers} answers (bound {bound}), {notices} notice(s) (bound 1), "
        f"last message {last:.1f} s after the flood began"
    )
    ok = p99 <= P99_TARGET_MS and answers <= bound and notices <= 1
    print(f"   {'ok' if ok else 'MISSED'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=500, help="commands the flooding chat sends (default 500)")
    parser.add_argument("--probes", type=int, default=200, help="other chats' /spread per scenario (default 200)")
    parser.add_argument("--rate", type=float, default=20.0, help="probes per second (default 20)")
    parser.add_argument("--source", default=f"csv:{SW}" if SW.exists() else "sample")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:
        db = Path(tmp) / "bench.db"
        settings = parse_settings({"data": {"source": args.source}, "storage": {"path": str(db)}}, "bench")
        result = Engine(settings, Store(db)).update()
        print(f"store: {args.source}, {result.snapshots_written} snapshots")
        print(
            f"limits (defaults): {DEFAULTS.command_burst} commands at once per chat, "
            f"{DEFAULTS.commands_per_minute:g} a minute, {DEFAULTS.heavy_at_once} heavy commands at once"
        )
        config = Path(tmp) / "config.yaml"
        config.write_text(
            f"lang: en\ndata:\n  source: '{args.source}'\nstorage:\n  path: '{db}'\n"
            f"telegram:\n  token_env: {TOKEN_ENV}\n  base_url: '{fake.base_url}'\n"
            f"  base_file_url: '{fake.base_file_url}'\n",
            encoding="utf-8",
        )
        env = {**os.environ, TOKEN_ENV: "123456:BENCH", "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            fake.wait_calls("getUpdates", 1, timeout=60)
            # warm-up: the first answers pay for lazy imports, the chart's fonts and the caches
            for i, command in enumerate(["/spread", "/history all", "/regime", "/spread"]):
                mark = fake.call_count()
                fake.push(command_update(command, chat_id=30_000 + i))
                fake.wait_sent(1, chat_id=30_000 + i, since=mark, timeout=120)
            results = [
                run_scenario(fake, s, args.flood, args.probes, args.rate, 40_000 + 1000 * n)
                for n, s in enumerate(SCENARIOS)
            ]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print("targets: " + ("all met" if all(results) else "MISSED"))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
