"""How a secret-bearing value is shown: one function, :func:`mask`, for every URL, token and password that a
command prints, a log line holds or an admin is answered.

* A URL keeps what says *where* (its scheme, a host name, a port, a PostgreSQL database and user) and the
  ``${NAME}`` references to environment variables; every other part (a password, a user of a notification
  service, a path or host that is a token, a query value) becomes ``***``. Query keys stay, so
  ``?password=***`` still says what was there.
* Anything else (a token, a password) is ``***`` as a whole.

Text that comes from elsewhere (a library's error, a log record) may hold a secret the service knows in full:
:func:`scrub` replaces every such value. The values are remembered by :func:`remember` when the settings are
loaded (the secret parts of every configured URL and the environment values they refer to, the bot token,
``PGPASSWORD``), and :class:`ScrubSecrets` applies :func:`scrub` to every log record.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote

MASK = "***"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# parts shorter than this are not scrubbed out of free text (they would garble ordinary words); mask() still
# hides them in the URL they belong to
MIN_SCRUB_LEN = 6
# the secrets of one URL scrubbed from an error about that URL: shorter parts are more likely words
MIN_EXTRA_LEN = 4
_POSTGRES = ("postgresql", "postgres")
# query keys whose values say how to connect or what format to send, never a secret
_PLAIN_QUERY_KEYS = frozenset(
    {"sslmode", "connect_timeout", "application_name", "target_session_attrs", "format", "lang", "overflow"}
)
_HOST_NAME = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])$")
_PORT = re.compile(r"^(.*):(\d{1,5})$")


def _only_refs(part: str) -> bool:
    """True when ``part`` is empty or nothing but ``${NAME}`` references (names, not secrets)."""
    return not ENV_REF.sub("", part)


class _Url:
    """A URL taken apart by hand: Apprise's URLs are not always valid for ``urlsplit`` (``tgram://1:AB/``)."""

    def __init__(self, url: str) -> None:
        self.scheme, _, rest = url.partition("://")
        rest, self.hash, self.fragment = rest.partition("#")
        rest, self.qmark, self.query = rest.partition("?")
        netloc, self.slash, self.path = rest.partition("/")
        userinfo, self.at, hostport = netloc.rpartition("@")
        self.user, self.colon, self.password = userinfo.partition(":")
        m = _PORT.match(hostport)
        self.host, self.port = (m.group(1), m.group(2)) if m else (hostport, "")
        self.postgres = self.scheme.lower() in _POSTGRES

    def host_is_secret(self) -> bool:
        if self.postgres or _only_refs(self.host):
            return False
        # ``wecombot://KEY``, ``tgram://TOKEN/...``: a "host" that is no host name is a token
        return not _HOST_NAME.match(ENV_REF.sub("x", self.host).replace(",", "."))

    def parts(self) -> list[tuple[str, bool]]:
        """Every (component, is secret), in order; joined they give the URL back."""
        out: list[tuple[str, bool]] = [(self.scheme + "://", False)]
        if self.at:
            out.append((self.user, not self.postgres and not _only_refs(self.user)))
            if self.colon:
                out += [(":", False), (self.password, not _only_refs(self.password))]
            out.append(("@", False))
        out.append((self.host, self.host_is_secret()))
        if self.port:
            out.append((":" + self.port, False))
        if self.slash:
            out.append(("/", False))
            for i, segment in enumerate(self.path.split("/")):
                if i:
                    out.append(("/", False))
                out.append((segment, not self.postgres and not _only_refs(segment)))
        if self.qmark:
            out.append(("?", False))
            for i, pair in enumerate(self.query.split("&")):
                key, eq, value = pair.partition("=")
                out.append((("&" if i else "") + key + eq, False))
                out.append((value, key.lower() not in _PLAIN_QUERY_KEYS and not _only_refs(value)))
        if self.hash:
            out += [("#", False), (self.fragment, not _only_refs(self.fragment))]
        return out


def is_url(value: str) -> bool:
    return "://" in value and bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value))


def mask(value: str | None) -> str:
    """``value`` fit to print: a URL with its secret parts as ``***``; any other non-empty value as ``***``."""
    if not value:
        return ""
    if not is_url(value):
        return MASK
    return "".join(MASK if secret and part else part for part, secret in _Url(value).parts())


def url_secrets(url: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret parts of ``url`` (as :func:`mask` hides them), and the values of the variables it names."""
    out = [part for part, secret in _Url(url).parts() if secret and part] if is_url(url) else []
    if environ is not None:
        out += [environ[name] for name in ENV_REF.findall(url) if environ.get(name)]
    return out


_known: set[str] = set()
_known_lock = threading.Lock()


def remember(values: Iterable[str | None]) -> None:
    """Secrets :func:`scrub` removes from any text from now on (short values are left out: see MIN_SCRUB_LEN)."""
    with _known_lock:
        _known.update(v for v in values if v and len(v) >= MIN_SCRUB_LEN)


def scrub(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every remembered secret, and every one of ``extra``, replaced by ``***``."""
    with _known_lock:
        values = set(_known)
    values.update(v for v in extra if v and len(v) >= MIN_EXTRA_LEN)
    for value in sorted(values, key=len, reverse=True):  # the longest first: a secret may contain another
        # as written, and as it appears quoted inside a URL (an address in a path: bob%40example.com)
        for form in {value, quote(value, safe=""), quote(value)}:
            if form in text:
                text = text.replace(form, MASK)
    return text


class ScrubSecrets(logging.Filter):
    """Scrubs every remembered secret (and ``extra``) out of a log record: message, arguments, traceback."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        super().__init__()
        self.extra = tuple(extra)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = scrub(text, self.extra)
        if clean != text:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self.extra)
        return True


def install_log_scrubbing(extra: Iterable[str] = ()) -> None:
    """Put :class:`ScrubSecrets` on every handler of the root logger (once per handler)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    for handler in root.handlers:
        for f in list(handler.filters):
            if isinstance(f, ScrubSecrets):
                handler.removeFilter(f)
        handler.addFilter(ScrubSecrets(extra))
