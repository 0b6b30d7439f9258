"""The dashboard over HTTP (``webapp.listen``): the page, its static files and a small JSON API, served by
tornado on the bot's own event loop (as ``/healthz``: python-telegram-bot's ``webhooks`` extra brings
tornado, so the service gains no server and no thread of its own).

Routes (GET unless said)::

    /                        the page (Telegram Mini App, or the plain read-only page outside Telegram)
    /static/<file>           its script, style and the vendored chart library (precompressed in memory)
    /api/meta                data status: latest day, stale, source; whether the plain page is public
    /api/spread              every stored trading day: spread, percentile, P50/P90, top/bottom five, episodes
    /api/industries          today's ranked gains, heatmap of gains by industry x month (24 months)
    /api/industry/<code>     one industry's gain and rank over time
    /api/scenarios?lang=zh   each scenario now (evidence in the reader's language) and its history
    /api/me                  GET / POST: the subscriber's own settings; needs Telegram's initData

Public data needs no login; ``/api/me`` answers 401 to a missing, forged, altered or expired ``initData``
and changes nothing then. Every answer about data is computed once per change of the stored snapshots
(a new trading day, a revision) and kept as JSON and gzip bytes, so a request costs a lookup. Unknown
routes get 404, malformed parameters 400 with the reason, and an error never shows a traceback (it is
logged).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import logging
import mimetypes
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.httpserver
import tornado.netutil
import tornado.web

from bot.web.auth import Unauthorized, WebAppUser, user_from_header
from bot.web.daily_table import DailyTable
from bot.web.payloads import industries_payload, industry_payload, scenarios_payload, spread_payload
from bot.web.subscriber import BadChange, change_settings, parse_change, settings_of
from jobs.alerting.services import Services
from jobs.config.languages import LANGS
from jobs.config.settings import ConfigError
from jobs.engine.rules import params_from_settings
from jobs.regimes.file_inputs import files_signature
from jobs.regimes.history import RegimeHistory, build_history
from jobs.regimes.repo import RegimeRepo
from jobs.regimes.service import REPORT_META_KEY, RegimeReport, evaluate_regimes, stored_report

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".html", ".js", ".css", ".txt", ".svg", ".png"}
CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,20}$")
MAX_BODY = 4096  # a settings change is a few fields


@dataclass(frozen=True)
class Encoded:
    """One answer's bytes, plain and gzipped, with its ETag."""

    body: bytes
    gz: bytes
    etag: str
    content_type: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> Encoded:
        return cls(body, gzip.compress(body, 6), '"' + hashlib.sha256(body).hexdigest()[:32] + '"', content_type)

    @classmethod
    def json(cls, value: Any) -> Encoded:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return cls.of(text.encode(), "application/json; charset=utf-8")


def load_static(root: Path = STATIC_DIR) -> dict[str, Encoded]:
    """Every file the page needs, by its path under /static/ (read once: nothing on disk is served by name)."""
    files: dict[str, Encoded] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in STATIC_TYPES:
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                kind += "; charset=utf-8"
            files[path.relative_to(root).as_posix()] = Encoded.of(path.read_bytes(), kind)
    return files


class Dashboard:
    """What the API answers, cached per state of the store (the stored snapshots and regime inputs)."""

    def __init__(self, services: Services, bot_token: str) -> None:
        self.services = services
        self.bot_token = bot_token
        self.table = DailyTable(services.engine.source.name)
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[Any, Encoded]] = {}
        self._history_lock = threading.Lock()
        self._history: tuple[Any, RegimeHistory] | None = None

    def _cached(self, name: str, key: Any, build: Callable[[], Any]) -> Encoded:
        with self._lock:
            found = self._answers.get(name)
        if found is not None and found[0] == key:
            return found[1]
        value = Encoded.json(build())
        with self._lock:
            self._answers[name] = (key, value)
        return value

    # each method runs in a worker thread
    def spread(self) -> Encoded:
        table = self.table.refresh(self.services.store)
        settings = self.services.settings
        key = (table.version, settings.metric.history_start, params_from_settings(settings.alerts))
        return self._cached("spread", key, lambda: spread_payload(table, settings))

    def industries(self) -> Encoded:
        table = self.table.refresh(self.services.store)
        return self._cached("industries", table.version, lambda: industries_payload(table))

    def industry(self, code: str) -> Encoded | None:
        table = self.table.refresh(self.services.store)
        payload = industry_payload(table, code)
        return None if payload is None else Encoded.json(payload)

    def regime_history(self) -> tuple[Any, RegimeHistory]:
        """(its key, the regime history of every stored day) — rebuilt when the snapshots or inputs change."""
        services = self.services
        table = self.table.refresh(services.store)
        key = (table.version, RegimeRepo(services.store).signature(), files_signature(services.settings.regimes.inputs))
        with self._history_lock:  # one build at a time: it takes a second or two
            if self._history is None or self._history[0] != key:
                self._history = (key, build_history(services.store, services.settings, table.source))
            return self._history

    def scenarios(self, lang: str) -> Encoded:
        store = self.services.store
        history_key, history = self.regime_history()
        key = (history_key, store.get_meta(REPORT_META_KEY))

        def build() -> Any:
            report: RegimeReport | None = stored_report(store)
            if report is None and self.table.rows:
                # before the daily job kept its first report: evaluate the stored data, as /regime does (once
                # per state of the store: inside the cached build, not on every request)
                services = self.services
                report = evaluate_regimes(store, services.settings, self.table.source, self.table.rows[-1].day)
            return scenarios_payload(report, history, lang)

        return self._cached(f"scenarios:{lang}", key, build)

    def meta(self, public: bool) -> dict[str, Any]:
        services = self.services
        status = services.engine.status(services.clock())
        return {
            "has_data": status.last_data_date is not None,
            "as_of": status.last_data_date.isoformat() if status.last_data_date else None,
            "stale": status.stale,
            "source_label": status.source_label,
            "synthetic": status.synthetic,
            "default_lang": services.settings.lang,
            "public": public,
        }

    def warm(self) -> None:
        """Build the answers ahead of the first reader (after start; the bot calls it again after the daily job)."""
        self.spread()
        self.industries()
        for lang in LANGS:
            self.scenarios(lang)


# -- handlers --------------------------------------------------------------------------------------


class _Base(tornado.web.RequestHandler):
    ALLOWED_ARGS: frozenset[str] = frozenset()

    def initialize(self, app: WebApp) -> None:
        self.web = app

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")

    def check_args(self) -> None:
        unknown = sorted(set(self.request.query_arguments) - self.ALLOWED_ARGS)
        if unknown:
            raise ApiError(400, f"unknown parameter {unknown[0]!r}")
        for name, values in self.request.query_arguments.items():
            if len(values) > 1:
                raise ApiError(400, f"parameter {name!r} given more than once")

    def send(self, answer: Encoded, cache: str = "no-cache") -> None:
        self.set_header("Content-Type", answer.content_type)
        self.set_header("Cache-Control", cache)
        self.set_header("ETag", answer.etag)
        self.set_header("Vary", "Accept-Encoding")
        if self.request.headers.get("If-None-Match") == answer.etag:
            self.set_status(304)
            self.finish()
            return
        if "gzip" in self.request.headers.get("Accept-Encoding", ""):
            self.set_header("Content-Encoding", "gzip")
            self.finish(answer.gz)
        else:
            self.finish(answer.body)

    def send_json(self, value: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(value, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            reason = exc.reason
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message and status_code < 500:
            reason = exc.log_message
        else:
            reason = {404: "not found", 405: "method not allowed"}.get(status_code, "internal error")
        self.set_header("Cache-Control", "no-store")
        if self.request.path.startswith("/api/"):
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish(json.dumps({"error": reason}))
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{status_code} {reason}\n")

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, (ApiError, tornado.web.HTTPError)):
            return
        log.error("webapp: %s %s failed", self.request.method, self.request.uri, exc_info=(typ, value, tb))


class ApiError(tornado.web.HTTPError):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status)
        self.reason = reason


class _Page(_Base):
    ALLOWED_ARGS = frozenset({"tab", "lang", "tgWebAppStartParam"})

    async def get(self) -> None:
        # the page's own parameters are read by the page; Telegram adds its own to the fragment, not here
        self.send(self.web.static["index.html"])


class _Static(_Base):
    async def get(self, path: str) -> None:
        found = self.web.static.get(path)
        if found is None:
            raise ApiError(404, "not found")
        self.send(found, cache="public, max-age=3600")


class _Meta(_Base):
    async def get(self) -> None:
        self.check_args()
        meta = await asyncio.to_thread(self.web.dashboard.meta, self.web.public)
        self.send_json(meta)


class _Spread(_Base):
    async def get(self) -> None:
        self.check_args()
        self.send(await asyncio.to_thread(self.web.dashboard.spread))


class _Industries(_Base):
    async def get(self) -> None:
        self.check_args()
        self.send(await asyncio.to_thread(self.web.dashboard.industries))


class _Industry(_Base):
    async def get(self, code: str) -> None:
        self.check_args()
        if not CODE_RE.match(code):
            raise ApiError(400, "industry code: expected 1-20 letters, digits, '.', '_' or '-'")
        found = await asyncio.to_thread(self.web.dashboard.industry, code)
        if found is None:
            raise ApiError(404, f"no stored industry {code!r}")
        self.send(found)


class _Scenarios(_Base):
    ALLOWED_ARGS = frozenset({"lang"})

    async def get(self) -> None:
        self.check_args()
        lang = self.get_query_argument("lang", self.web.dashboard.services.settings.lang)
        if lang not in LANGS:
            raise ApiError(400, f"lang: expected one of {', '.join(LANGS)}")
        self.send(await asyncio.to_thread(self.web.dashboard.scenarios, lang))


class _Me(_Base):
    def _user(self) -> WebAppUser:
        services = self.web.dashboard.services
        try:
            return user_from_header(
                self.request.headers.get("Authorization"), self.web.dashboard.bot_token, services.clock()
            )
        except Unauthorized as exc:
            raise ApiError(401, str(exc)) from None

    async def get(self) -> None:
        self.check_args()
        user = self._user()
        self.send_json(await asyncio.to_thread(settings_of, self.web.dashboard.services, user))

    async def post(self) -> None:
        self.check_args()
        user = self._user()  # before the body is even read: an unverified request changes nothing
        if len(self.request.body) > MAX_BODY:
            raise ApiError(413, "request body too large")
        try:
            change = parse_change(json.loads(self.request.body or b"null"))
        except (ValueError, UnicodeDecodeError) as exc:
            reason = str(exc) if isinstance(exc, BadChange) else "expected a JSON object"
            raise ApiError(400, reason) from None
        self.send_json(await asyncio.to_thread(change_settings, self.web.dashboard.services, user, change))


class _NotFound(_Base):
    def prepare(self) -> None:
        raise ApiError(404, "not found")


def _quiet_access_log(handler: tornado.web.RequestHandler) -> None:
    log.debug("%d %s %.1f ms", handler.get_status(), handler.request.uri, 1000 * handler.request.request_time())


class WebApp:
    """The tornado application and what its handlers share."""

    def __init__(self, services: Services, bot_token: str, public: bool | None = None) -> None:
        self.dashboard = Dashboard(services, bot_token)
        self.public = services.settings.webapp.public if public is None else public
        self.static = load_static()
        args = {"app": self}
        self.application = tornado.web.Application(
            [
                (r"/", _Page, args),
                (r"/static/(.+)", _Static, args),
                (r"/api/meta", _Meta, args),
                (r"/api/spread", _Spread, args),
                (r"/api/industries", _Industries, args),
                (r"/api/industry/([^/]+)", _Industry, args),
                (r"/api/scenarios", _Scenarios, args),
                (r"/api/me", _Me, args),
            ],
            default_handler_class=_NotFound,
            default_handler_args=args,
            log_function=_quiet_access_log,
        )


class WebServer:
    """Serves :class:`WebApp` on ``host:port`` on the running event loop (``start`` / ``stop``)."""

    def __init__(self, host: str, port: int, services: Services, bot_token: str) -> None:
        self.host, self.port = host, port
        self.app = WebApp(services, bot_token)
        self._server: tornado.httpserver.HTTPServer | None = None
        self._warming: asyncio.Task[None] | None = None
        self._stale = False  # the data changed while a rebuild was under way: build once more

    async def start(self) -> None:
        try:
            sockets = tornado.netutil.bind_sockets(self.port, self.host)
        except OSError as exc:
            msg = f"config error: webapp.listen: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            raise ConfigError(msg) from None
        self.port = sockets[0].getsockname()[1]  # the port the system chose for port 0
        server = tornado.httpserver.HTTPServer(self.app.application, max_body_size=64 * 1024)
        server.add_sockets(sockets)
        self._server = server
        self._warming = asyncio.create_task(self.warm())
        log.info("webapp: the dashboard on %s:%d", self.host, self.port)

    def rewarm(self) -> None:
        """Rebuild the answers in the background after the data changed (the daily job, the regimes): the
        first reader of a new trading day gets them from the cache instead of waiting for the rebuild."""
        self._stale = True
        if self._server is not None and (self._warming is None or self._warming.done()):
            self._warming = asyncio.create_task(self.warm())

    async def warm(self) -> None:
        while True:
            self._stale = False
            try:
                await asyncio.to_thread(self.app.dashboard.warm)
            except Exception:
                log.exception("webapp: preparing the dashboard's answers failed (they are built on request instead)")
                return
            if not self._stale:
                return

    async def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
            self._server = None
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
            self._warming = None
