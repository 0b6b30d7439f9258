"""No secret is repeated back: one masking function (jobs.config.secrets.mask) shows every URL and secret,
configuration errors never echo a secret-bearing value, and a distinct secret planted in every
secret-bearing key is found nowhere: not in the output of any command, the logs, /metrics, /healthz or
the admins' answers."""

# ruff: noqa: F811  (pytest fixtures imported from bot_harness are parameters here)

from __future__ import annotations

import io
import logging
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml
from support.bot_harness import ADMIN_ID, TOKEN, BotHarness, db, filled_db  # noqa: F401
from support.cli_support import spreadwatch, write_csv

from bot.cli.main import main
from bot.cli.run_cli import startup_summary
from jobs.config.secrets import ScrubSecrets, install_log_scrubbing, mask, scrub, url_secrets
from jobs.config.settings import ConfigError, parse_settings
from jobs.store.datastore import Store
from jobs.store.db_postgres import PostgresDatabase

# one distinct secret per secret-bearing key or variable
PLANTED = {
    "token": "424242:PLANTtokenValue",
    "pgpassword": "PLANTpgpassword",
    "to_var": "PLANTtoaddr@example.com",
    "hook_var": "PLANThookvar",
    "mail_password": "PLANTmailpw",
    "json_password": "PLANTjsonpw",
    "json_path": "PLANTjsonpath",
    "webhook_path": "PLANTwebhookpath",
    "base_url_path": "PLANTbaseurlpath",
    "query_password": "PLANTquerypw",
}
ENV = {
    "SW_PLANT_TOKEN": PLANTED["token"],
    "PGPASSWORD": PLANTED["pgpassword"],
    "SW_PLANT_TO": PLANTED["to_var"],
    "SW_PLANT_HOOK": PLANTED["hook_var"],
}
# port 9 (discard) on this machine: nothing listens, a send fails at once and nothing leaves the machine
DESTINATIONS = [
    {"name": "mail", "url": f"mailtos://bob:{PLANTED['mail_password']}@localhost:9?to=${{SW_PLANT_TO}}"},
    {
        "name": "hook",
        "url": f"json://user:{PLANTED['json_password']}@localhost:9/{PLANTED['json_path']}/${{SW_PLANT_HOOK}}",
    },
]


def leaks(text: str) -> list[str]:
    found = [key for key, value in PLANTED.items() if value in text]
    # the parts of a value a masking could leave behind (the token's secret half, the address's name)
    found += [f"{key} (part)" for key in ("token", "to_var") if PLANTED[key].split(":")[-1].split("@")[0] in text]
    return found


# -- the masking function -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql://u@db.example.com:5432/sw?password=PW123456&sslmode=require",
            "postgresql://u@db.example.com:5432/sw?password=***&sslmode=require",
        ),
        ("postgresql://u:PW123456@db/sw", "postgresql://u:***@db/sw"),
        ("mailtos://bob:PW123456@smtp.example.com?to=${TO}", "mailtos://***:***@smtp.example.com?to=${TO}"),
        ("json://user:PW123456@host/${HOOK}", "json://***:***@***/${HOOK}"),
        ("json://localhost:8080/hooks/TOKEN123456", "json://localhost:8080/***/***"),
        ("tgram://123456:ABCDEFGH/-100123", "tgram://***/***"),
        ("wecombot://${WECOM_KEY}", "wecombot://${WECOM_KEY}"),
        ("bark://api.day.app/DEVICEKEY?format=markdown", "bark://api.day.app/***?format=markdown"),
        ("https://bot.example.com/telegram/SECRETPATH", "https://bot.example.com/***/***"),
    ],
)
def test_mask_keeps_where_and_the_variable_names_and_hides_every_secret_part(url: str, shown: str) -> None:
    assert mask(url) == shown
    assert all(part not in mask(url) for part in url_secrets(url))


def test_mask_of_a_plain_secret_and_scrub_of_free_text() -> None:
    assert mask("123456:ABCDEF") == "***" and mask(None) == "" and mask("") == ""
    url = "json://u:SECRETPW@localhost/SECRETPATH"
    text = f"POST to localhost/SECRETPATH failed for u:SECRETPW ({url})"
    assert "SECRET" not in scrub(text, url_secrets(url))


def test_log_records_are_scrubbed_of_every_secret_the_settings_lead_to(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    parse_settings({"telegram": {"token_env": "SW_PLANT_TOKEN"}, "notify": {"destinations": DESTINATIONS}})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubSecrets())
    log = logging.getLogger("spreadwatch.test.secrets")
    log.addHandler(handler)
    try:
        for value in PLANTED.values():
            log.error("sending with %s failed", value)
        try:
            raise RuntimeError(f"connect to localhost:9/{PLANTED['json_path']}/{PLANTED['hook_var']} refused")
        except RuntimeError:
            log.exception("delivery failed")
        out = stream.getvalue()
        # an address in a URL's path is quoted (PLANTtoaddr%40example.com): that form is scrubbed too
        log.error("sent to mailtos://localhost/%s", urllib.parse.quote(PLANTED["to_var"], safe=""))
    finally:
        log.removeHandler(handler)
    assert "RuntimeError" in out and "delivery failed" in out
    # every secret the settings lead to is gone; a value no setting holds (the query password) is not known
    assert set(leaks(out)) == {"query_password", "base_url_path", "webhook_path"}
    assert "PLANTtoaddr" not in stream.getvalue().splitlines()[-1]


# -- configuration errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"storage": f"postgresql://u:{PLANTED['query_password']}@db/sw"},  # a section written as a plain value
        {"storage": {"url": f"postgresql://u@db/sw?password={PLANTED['query_password']}"}},
        {"storage": {"url": f"postgresql://u@db/sw?sslpassword={PLANTED['query_password']}"}},
        {"storage": {"url": f"postgresql://u:p/{PLANTED['query_password']}@db/sw"}},  # unparsable: no quote of it
        {"storage": {"url": f"postgresql://u:{PLANTED['query_password']}@db/sw"}},
        {"storage": {"path": f"postgresql://u:{PLANTED['query_password']}@db/sw", "url": 5}},
        {"notify": {"destinations": [f"json://u:{PLANTED['json_password']}@localhost/{PLANTED['json_path']}"]}},
        {"notify": f"json://u:{PLANTED['json_password']}@localhost/x"},
        {"telegram": {"token_env": PLANTED["token"]}},
        {"telegram": {"webhook_url": 5, "base_url": ["https://api.example.com/" + PLANTED["base_url_path"]]}},
    ],
)
def test_a_configuration_error_never_echoes_a_secret(raw: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(raw)
    message = str(info.value)
    assert message.startswith("config error: ") and "pydantic" not in message
    assert not leaks(message), message


def test_a_password_in_the_postgres_query_is_refused_naming_pgpassword() -> None:
    with pytest.raises(ConfigError, match=r"storage\.url: must not contain the password.*PGPASSWORD"):
        parse_settings({"storage": {"url": "postgresql://u@db/sw?password=x"}})
    with pytest.raises(ConfigError, match=r"telegram\.token_env: expected the NAME of an environment variable"):
        parse_settings({"telegram": {"token_env": "123456:ABC-DEF"}})


def test_migrate_store_gives_the_reason_not_a_link_nor_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for to in (
        f"postgresql://u:{PLANTED['query_password']}@db/sw",
        f"postgresql://u@db/sw?password={PLANTED['query_password']}",
    ):
        assert main(["migrate-store", "--from", f"sqlite:{tmp_path / 's.db'}", "--to", to]) == 2
        err = capsys.readouterr().err
        assert err.strip() == (
            "migrate-store: --to: must not contain the password: set it in the environment as PGPASSWORD instead"
        )


def test_a_store_error_and_the_store_line_never_show_a_query_password() -> None:
    url = f"postgresql://u@127.0.0.1:9/sw?password={PLANTED['query_password']}&sslmode=disable"
    database = PostgresDatabase(url, connect_timeout_s=1)
    assert PLANTED["query_password"] not in database.describe()
    error = database.error(RuntimeError(f"could not use {url}"))
    assert not leaks(str(error)) and "sslmode=disable" in str(error)


# -- the planted-secret scan --------------------------------------------------------------------------


@pytest.fixture
def planted_config(tmp_path: Path) -> Path:
    source = write_csv(tmp_path / "own.csv", date(2023, 1, 2), date(2025, 2, 14))
    config = {
        "data": {"source": f"csv:{source}"},
        "storage": {"path": "store.db"},
        "telegram": {
            "token_env": "SW_PLANT_TOKEN",
            "admins": [ADMIN_ID],
            "webhook_url": f"https://bot.example.com/{PLANTED['webhook_path']}",
            "base_url": f"http://127.0.0.1:9/{PLANTED['base_url_path']}/bot",
        },
        "notify": {"destinations": DESTINATIONS},
        "ops": {"listen": "0.0.0.0:0"},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_no_command_repeats_a_planted_secret(planted_config: Path, tmp_path: Path) -> None:
    env = {**ENV, "TELEGRAM_BOT_TOKEN": PLANTED["token"]}
    cfg = ["--config", str(planted_config)]
    commands: list[tuple[str, ...]] = [
        ("check-config", *cfg),
        ("backfill", *cfg, "-v"),
        ("report", *cfg, "-v"),
        ("export", *cfg, "--no-refresh"),
        ("run-daily", *cfg, "-v", "--as-of", "2025-02-14"),
        ("backtest", *cfg),
        ("regime", *cfg, "--no-refresh"),
        ("notify-test", *cfg),
        ("notify-resume", "hook", *cfg),
        ("backup", *cfg, str(tmp_path / "copy.db")),
        ("migrate-store", "--from", f"sqlite:{tmp_path / 'store.db'}", "--to", f"sqlite:{tmp_path / 'moved.db'}"),
        # a password in the query of a --db override, and a PostgreSQL store that cannot be reached
        ("report", *cfg, "--db", f"postgresql://u@127.0.0.1:9/sw?password={PLANTED['query_password']}"),
        ("report", *cfg, "--db", "postgresql://u@127.0.0.1:9/sw?sslmode=disable"),
        ("backup", *cfg, "--db", "postgresql://u@127.0.0.1:9/sw", str(tmp_path / "pg.dump")),
        (
            "migrate-store",
            "--from",
            f"sqlite:{tmp_path / 'store.db'}",
            "--to",
            f"postgresql://u:{PLANTED['query_password']}@127.0.0.1:9/sw",
        ),
    ]
    ran = []
    for args in commands:
        run = spreadwatch(*args, cwd=tmp_path, env=env)
        ran.append((args[0], run.code))
        assert not leaks(run.out + run.err), (args, run.out, run.err)
        assert "Traceback" not in run.err, (args, run.err)
    codes = dict(ran)
    assert codes["backfill"] == 0 and codes["notify-test"] == 1  # it ran, and the sends failed (port 9)
    check = spreadwatch("check-config", *cfg, cwd=tmp_path, env=env)
    assert "destination hook" in check.out and "$SW_PLANT_HOOK: set" in check.out
    assert "ops.listen 0.0.0.0:0: /healthz and /metrics answer anyone" in check.err


def test_the_startup_summary_repeats_no_planted_secret(planted_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    raw = yaml.safe_load(planted_config.read_text(encoding="utf-8"))
    raw["telegram"]["mode"] = "webhook"
    raw["storage"]["path"] = str(planted_config.parent / "summary.db")
    settings = parse_settings(raw)
    store = Store(settings.storage.target)
    try:
        text = startup_summary(settings, store, PLANTED["token"])
    finally:
        store.close()
    assert not leaks(text), text
    assert "webhook https://bot.example.com/***" in text and "Bot API http://127.0.0.1:9" in text
    assert "warning: ops.listen 0.0.0.0:0" in text


@pytest.fixture
def planted_bot(db: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BotHarness]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    old_level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    harness = BotHarness(
        db,
        sections={"notify": {"destinations": DESTINATIONS}, "ops": {"listen": "127.0.0.1:0"}},
        webhook_url=f"https://bot.example.com/{PLANTED['webhook_path']}",
    )
    try:
        install_log_scrubbing([TOKEN])  # as `spreadwatch run` does, on the handlers of the root logger
        harness.start()
        harness.logs = stream  # type: ignore[attr-defined]
        yield harness
    finally:
        harness.stop()
        root.removeHandler(handler)
        root.setLevel(old_level)
        for h in root.handlers:  # pytest's own handlers: leave them as they were
            for f in [f for f in h.filters if isinstance(f, ScrubSecrets)]:
                h.removeFilter(f)


def test_no_admin_answer_log_line_or_ops_endpoint_repeats_a_planted_secret(planted_bot: BotHarness) -> None:
    texts = []
    for command in ("/status", "/destinations", "/alerts", "/regime", "/help", "/settings", "/refresh"):
        for call in planted_bot.ask(command, chat_id=ADMIN_ID, user_id=ADMIN_ID, language_code="en"):
            texts.append(call.params.get("text", ""))
    port = planted_bot.application.bot_data.ops_server.port
    for path in ("/healthz", "/metrics"):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
                texts.append(response.read().decode())
        except urllib.error.HTTPError as exc:  # /healthz may say 503 on a test store: its body counts too
            texts.append(exc.read().decode())
    texts.append(planted_bot.logs.getvalue())  # type: ignore[attr-defined]
    joined = "\n".join(texts)
    assert "hook" in joined  # /destinations answered
    assert not leaks(joined) and TOKEN not in joined


def test_every_planted_secret_is_a_secret_the_settings_know(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan plants a secret in each secret-bearing key: if a new one is added, plant one there too."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    settings = parse_settings(
        {
            "telegram": {
                "token_env": "SW_PLANT_TOKEN",
                "webhook_url": f"https://bot.example.com/{PLANTED['webhook_path']}",
                "base_url": f"http://127.0.0.1:9/{PLANTED['base_url_path']}/bot",
            },
            "notify": {"destinations": DESTINATIONS},
        }
    )
    known = " ".join(settings.secret_values(os.environ))
    found = {key for key in leaks(known) if not key.endswith("(part)")}
    assert found == set(PLANTED) - {"query_password"}  # refused in any URL, so never known
