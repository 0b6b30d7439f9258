"""``spreadwatch notify-test``: what each destination answered, a paused destination resumed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from support.notify_receiver import receiver

from bot.cli.main import main
from jobs.alerting.destinations import DestinationRepo
from jobs.store.datastore import Store


def config(tmp_path: Path, *dests: dict[str, str]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump({"storage": {"path": str(tmp_path / "s.db")}, "notify": {"destinations": list(dests)}}),
        encoding="utf-8",
    )
    return path


def test_notify_test_prints_each_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with receiver(200, 404) as rx:
        cfg = config(
            tmp_path,
            {"name": "ok", "url": rx.url(path="a"), "lang": "en"},
            {"name": "bad", "url": rx.url("form", "b")},
        )
        assert main(["notify-test", "--config", str(cfg)]) == 1
        assert json.loads(rx.bodies[0])["message"].startswith("✅ spreadwatch test message")
    out = capsys.readouterr().out
    assert "ok: sent" in out and "bad: FAILED - HTTP 404 (permanent)" in out
    assert "127.0.0.1" not in out


def test_notify_test_of_one_destination_resumes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with receiver() as rx:
        cfg = config(tmp_path, {"name": "a", "url": rx.url(path="a")}, {"name": "b", "url": rx.url(path="b")})
        assert main(["notify-test", "--config", str(cfg), "--destination", "a"]) == 0
        repo = DestinationRepo(Store(tmp_path / "s.db"))
        for _ in range(5):
            repo.record_failure("a", "HTTP 503", 5)
        assert main(["notify-test", "--config", str(cfg), "--destination", "a"]) == 0
        assert len(rx.bodies) == 2  # b was not asked
    out = capsys.readouterr().out
    assert "a: sent (resumed: it was paused; 0 held message(s) go out with the next delivery)" in out
    state = repo.get("a")
    assert state is not None and not state.paused


def test_an_unknown_destination_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path, {"name": "a", "url": "json://127.0.0.1:9/a"})
    assert main(["notify-test", "--config", str(cfg), "--destination", "zz"]) == 2
    err = capsys.readouterr().err
    assert "--destination: no destination named 'zz' (a)" in err and "Traceback" not in err
