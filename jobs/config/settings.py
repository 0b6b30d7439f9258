"""One typed settings object, loaded from YAML and validated at start-up.

Errors name the offending key (``alerts.enter_percentile``) and the expected form, so a bad config
stops the service with one line instead of a traceback. The bot token never lives in this object:
only the *name* of the environment variable that holds it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from jobs.config.languages import Lang
from jobs.config.notify_settings import NotifySettings
from jobs.config.regime_settings import RegimeSettings
from jobs.config.secrets import is_url, remember, url_secrets
from jobs.config.strict import Strict

DEFAULT_CONFIG_FILE = "config.yaml"
WINDOW_RE = re.compile(r"^(\d+)([MD])$")
BROADCAST_RE = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# libpq's connection parameters that carry a password (a URL's query may set them)
_PASSWORD_KEYS = frozenset({"password", "sslpassword"})
# keys whose values may hold a secret (a URL with its password or token, a token pasted in the wrong place):
# a config error about them, or about a whole section written as a plain value, never echoes the value
SECRET_BEARING_KEYS = frozenset(
    {"storage", "url", "notify", "destinations", "token_env", "base_url", "base_file_url", "webhook_url"}
)


class ConfigError(Exception):
    """A configuration problem; ``str()`` is the one-line message shown to the operator."""


class DataSettings(Strict):
    # "sample" (bundled synthetic data), "akshare" (Shenwan 2021 level-1, live) or "csv:PATH"
    source: str = "sample"
    fetch_timeout_s: float = Field(20.0, gt=0, le=600)
    fetch_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(2.0, ge=0, le=300)
    max_daily_move: float = Field(0.25, gt=0, le=1.0)
    # live sources restate closes (corrections, re-based series): each refresh fetches this many stored
    # trading days again and takes in what changed; 0 = never (a csv file is re-read whole when it changes)
    revision_window_days: int = Field(20, ge=0, le=250)
    # a file of trading days (one YYYY-MM-DD per line, or a CSV whose first column is the date) used
    # instead of the calendar akshare ships; live refreshes extend it
    calendar_file: Path | None = None

    @field_validator("source")
    @classmethod
    def _source_form(cls, v: str) -> str:
        if v in ("sample", "akshare") or (v.startswith("csv:") and len(v) > 4):
            return v
        raise ValueError("expected 'sample', 'akshare' or 'csv:PATH'")


class MetricSettings(Strict):
    window: str = "6M"
    top_k: int = Field(5, ge=1, le=15)
    history_start: date = date(2010, 1, 1)

    @field_validator("window")
    @classmethod
    def _window_form(cls, v: str) -> str:
        m = WINDOW_RE.match(v)
        if not m or int(m.group(1)) == 0:
            raise ValueError("expected a window like '6M' (calendar months) or '120D' (trading days)")
        return v


class StorageSettings(Strict):
    path: Path = Path("spreadwatch.db")
    # PostgreSQL instead of the SQLite file: postgresql://USER@HOST:PORT/DB; the password comes from
    # PGPASSWORD (or ~/.pgpass), never from this file
    url: str | None = None

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        v = v.strip()
        if not v.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql://USER@HOST:PORT/DB URL (or leave it out to use storage.path)")
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018 - parsing the port validates it
        except ValueError:
            # not the parser's reason: it quotes the part it could not read, which may be the password
            raise ValueError("not a valid URL (expected postgresql://USER@HOST:PORT/DB)") from None
        in_query = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)} & _PASSWORD_KEYS
        if parts.password is not None or in_query:
            raise ValueError("must not contain the password: set it in the environment as PGPASSWORD instead")
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("needs a host and a database name: postgresql://USER@HOST:PORT/DB")
        return v

    @property
    def target(self) -> str | Path:
        """What the store opens: the PostgreSQL URL when set, else the SQLite file."""
        return self.url if self.url else self.path


class TelegramSettings(Strict):
    # the NAME of the environment variable that holds the token, never the token itself
    token_env: str = "TELEGRAM_BOT_TOKEN"
    base_url: str | None = None
    base_file_url: str | None = None
    admins: tuple[int, ...] = ()
    allowed_chats: tuple[int, ...] = ()
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    # channels or groups that get every alert, by id (-100...) or public @username: the bot must be
    # allowed to post there; a channel's posts are never taken as commands
    broadcast: tuple[str, ...] = ()
    # messages per second this instance sends (Telegram allows about 30 per bot): instances sharing
    # one database (storage.url) share the bot's limit, so give each its part (two: 14.75)
    rate: float = Field(29.5, gt=0, le=30)
    # per chat, a token bucket on commands and button presses: command_burst at once, refilled at
    # commands_per_minute (Telegram lets a bot send a group 20 messages a minute); past it the chat is
    # told once and ignored until it has a token again. Admins' own commands are not counted.
    commands_per_minute: float = Field(20.0, gt=0, le=600)
    command_burst: int = Field(10, ge=1, le=100)
    # heavy commands (charts, backtest, export, regimes) processed at once over all chats; each chat
    # has at most one in progress, its next command waits for it
    heavy_at_once: int = Field(2, ge=1, le=16)

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not ENV_NAME_RE.match(v):
            # a token pasted here instead of the variable's name: say so without repeating it
            raise ValueError(
                "expected the NAME of an environment variable (such as TELEGRAM_BOT_TOKEN), not the token: "
                "put the token in that variable"
            )
        return v

    @field_validator("broadcast", mode="before")
    @classmethod
    def _broadcast_form(cls, v: Any) -> Any:
        items = v if isinstance(v, (list, tuple)) else [v]
        out = []
        for item in items:
            text = str(item).strip()
            if not BROADCAST_RE.match(text):
                raise ValueError("expected chat ids such as -1001234567890 or @channelnames")
            out.append(text)
        return tuple(out)

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> TelegramSettings:
        if self.mode == "webhook" and not self.webhook_url:
            raise ValueError("webhook_url is required when mode is 'webhook'")
        return self


class ScheduleSettings(Strict):
    timezone: str = "Asia/Shanghai"
    daily_time: time = time(16, 30)
    retry_every_min: int = Field(15, ge=1, le=240)
    cutoff_time: time = time(21, 0)

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("expected an IANA time zone such as 'Asia/Shanghai'") from exc
        return v


class AlertSettings(Strict):
    enter_percentile: float = Field(90.0, gt=0, le=100)
    high_percentile: float = Field(95.0, gt=0, le=100)
    resolve_percentile: float = Field(80.0, ge=0, le=100)
    new_high_tier: bool = True
    consecutive_days: int = Field(1, ge=1, le=60)
    remind_every_days: int = Field(5, ge=0, le=250)
    min_history_days: int = Field(250, ge=0, le=5000)
    # after downtime, transitions older than this many trading days before the day caught up to are
    # logged but not sent one by one: each chat gets one digest of them instead of a flood
    catch_up_days: int = Field(3, ge=0, le=250)

    @model_validator(mode="after")
    def _ordered(self) -> AlertSettings:
        if not self.resolve_percentile < self.enter_percentile <= self.high_percentile:
            raise ValueError(
                "expected resolve_percentile < enter_percentile <= high_percentile "
                f"(got {self.resolve_percentile}, {self.enter_percentile}, {self.high_percentile})"
            )
        return self


class OpsSettings(Strict):
    # "HOST:PORT" ("[::1]:9108" for IPv6) where `spreadwatch run` serves /healthz and /metrics; None: off.
    # Off by default: the endpoints say how the service runs and must not face the internet unasked.
    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is None:
            return v
        split_listen(v)
        return v

    @property
    def address(self) -> tuple[str, int] | None:
        return split_listen(self.listen) if self.listen else None

    def exposure_warnings(self) -> list[str]:
        """What `run` and check-config say when the endpoints listen beyond this machine: they take no token."""
        address = self.address
        if address is None or _is_loopback(address[0]):
            return []
        return [
            f"ops.listen {self.listen}: /healthz and /metrics answer anyone who can reach this address, "
            "without a token; listen on 127.0.0.1 (or [::1]) unless a firewall or an authenticating proxy "
            "stands in front"
        ]


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name may resolve to any interface


class WebAppSettings(Strict):
    """The dashboard (README "The dashboard"): a Telegram Mini App and a plain page, served by ``spreadwatch run``.

    Off by default. ``listen`` is where this process serves it (behind the operator's HTTPS reverse proxy);
    ``public_url`` the HTTPS address Telegram opens (the 📊 buttons and the chat menu button appear only
    when it is set); ``public`` offers the read-only page to browsers outside Telegram.
    """

    listen: str | None = None
    public_url: str | None = None
    public: bool = False

    @field_validator("listen")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        split_listen(v.strip())
        return v.strip()

    @field_validator("public_url")
    @classmethod
    def _https(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        from urllib.parse import urlsplit

        v = v.strip()
        try:
            parts = urlsplit(v)
        except ValueError as exc:
            raise ValueError(f"not a valid URL ({exc})") from None
        # Telegram opens Mini Apps only over HTTPS: the reverse proxy in front of webapp.listen terminates it
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("expected an https:// URL (Telegram opens Mini Apps only over HTTPS)")
        if parts.query or parts.fragment:
            raise ValueError("expected an https:// URL without ?query or #fragment")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _served_here(self) -> WebAppSettings:
        if self.listen is None and (self.public_url is not None or self.public):
            raise ValueError(
                "listen is required when public_url or public is set (HOST:PORT where spreadwatch run serves it)"
            )
        return self

    @property
    def address(self) -> tuple[str, int] | None:
        return split_listen(self.listen) if self.listen else None


def split_listen(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9108"`` -> ``("127.0.0.1", 9108)``; ``"[::1]:9108"`` -> ``("::1", 9108)``."""
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("expected HOST:PORT such as 127.0.0.1:9108 (port 0: any free port)")
    return host, int(port)


class Settings(Strict):
    lang: Lang = "zh"
    data: DataSettings = DataSettings()
    metric: MetricSettings = MetricSettings()
    storage: StorageSettings = StorageSettings()
    telegram: TelegramSettings = TelegramSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    alerts: AlertSettings = AlertSettings()
    regimes: RegimeSettings = RegimeSettings()
    ops: OpsSettings = OpsSettings()
    webapp: WebAppSettings = WebAppSettings()
    notify: NotifySettings = NotifySettings()

    @property
    def csv_path(self) -> Path | None:
        """The file of a ``csv:PATH`` source, else None."""
        return Path(self.data.source[4:]) if self.data.source.startswith("csv:") else None

    @property
    def is_default_source(self) -> bool:
        return self.data.source == "sample"

    def bot_token(self) -> str | None:
        return os.environ.get(self.telegram.token_env) or None

    def secret_values(self, environ: Any = None) -> list[str]:
        """Every secret these settings lead to: the bot token, ``PGPASSWORD``, the secret parts of each
        configured URL and the values of the variables the URLs name (see jobs.config.secrets)."""
        env = os.environ if environ is None else environ
        tg = self.telegram
        urls = [self.storage.url, tg.base_url, tg.base_file_url, tg.webhook_url]
        urls += [d.url for d in self.notify.destinations]
        out = [env.get(tg.token_env) or "", env.get("PGPASSWORD") or ""]
        for url in urls:
            if url:
                out += url_secrets(url, env)
        return [v for v in out if v]


def _key(loc: tuple[int | str, ...]) -> str:
    """``("notify", "destinations", 0, "url")`` -> ``notify.destinations[0].url``."""
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _format_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    key = _key(err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    shown = "" if isinstance(got, (dict, list, tuple)) else f" (got {got!r})"
    if len(err["loc"]) == 1 or SECRET_BEARING_KEYS.intersection(map(str, err["loc"])):
        shown = ""  # a URL may hold a password or token; a section written as a plain value may be one
    if isinstance(got, str) and is_url(got):
        shown = ""
    if "rules" in err["loc"] and "unknown rule" in msg:
        shown = ""  # the message names the rule
    if err["type"] == "extra_forbidden":
        # an unknown key may be a secret pasted into the file (``telegram.token``): never echo its value
        msg, shown = "unknown key; see config.example.yaml for the keys this section takes", ""
    more = f"; {len(exc.errors()) - 1} more problem(s)" if len(exc.errors()) > 1 else ""
    return f"config error: {key}: {msg}{shown}{more}"


def parse_settings(raw: Any, origin: str = "config") -> Settings:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config error: {origin}: expected a mapping of sections at the top level")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None
    remember(settings.secret_values())  # scrubbed from every log line and error text from now on
    return settings


def _absolute(path: Path, base: Path) -> Path:
    # abspath, not resolve(): ``..`` is folded but a symlinked folder keeps the name the operator gave
    return Path(os.path.abspath(base / path.expanduser()))


def resolve_paths(settings: Settings, base: Path) -> Settings:
    """The same settings with every relative file path made absolute against ``base``.

    A config read by cron from another folder must find the same store and CSV as when it is run
    from its own folder, and a ``csv:`` source's name (the key of its rows in the store) must not
    depend on where the command was started.
    """
    update: dict[str, Any] = {}
    if str(settings.storage.path) != ":memory:":
        update["storage"] = settings.storage.model_copy(update={"path": _absolute(settings.storage.path, base)})
    csv = settings.csv_path
    if csv is not None:
        update["data"] = settings.data.model_copy(update={"source": f"csv:{_absolute(csv, base)}"})
    return settings.model_copy(update=update)


def load_settings(path: str | Path | None = None) -> tuple[Settings, Path | None]:
    """Load settings from ``path``; with no path, ``config.yaml`` if present, else built-in defaults.

    Relative paths in the file are resolved against the file's folder (the defaults' against the
    current folder).
    """
    if path is None:
        candidate = Path(DEFAULT_CONFIG_FILE)
        if not candidate.exists():
            return resolve_paths(Settings(), Path.cwd()), None
        path = candidate
    p = Path(path)
    try:
        is_file, is_dir = p.is_file(), p.is_dir()
    except OSError as exc:  # a name too long for the file system
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"config error: {p}: cannot be read ({reason}): give the configuration file's path") from None
    if is_dir:
        raise ConfigError(f"config error: {p} is a folder: give the configuration file's path")
    if not is_file:
        raise ConfigError(f"config error: file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config error: {p}:{where}: not valid YAML") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError(f"config error: {p}: cannot be read ({reason})") from None
    return resolve_paths(parse_settings(raw, str(p)), p.absolute().parent), p.absolute()
