"""``notify.destinations``: alert destinations beyond Telegram, each an Apprise URL.

A URL may name environment variables (``wecombot://${WECOM_KEY}``) so that its secret stays out of
the config file; they are expanded only when a message is sent (:func:`expand_url`), and the URL is
shown only through :func:`jobs.config.secrets.mask` (its references kept, every literal secret masked).
A URL Apprise does not understand is a config error at start, not a failure discovered at the first alert.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from jobs.config.languages import Lang
from jobs.config.secrets import ENV_REF, mask, scrub, url_secrets
from jobs.config.strict import Strict

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# stands in for an unset variable when checking a URL's form: the check must not need the secret
_PLACEHOLDER = "placeholder0secret"
# the alert rule ids a destination may choose among (``rules:``): the spread rule (jobs.alerting.alert_log), each
# regime scenario and the composite (jobs.alerting.regime_alerts.rule_id); a test keeps this list in step with them
ALERT_RULES = ("spread", "regime:macro", "regime:heat", "regime:reversal", "regime:breadth", "composite")
# generic webhooks pass any body format through: the receiver, not Apprise, decides what it renders
_PASS_THROUGH = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})
BodyFormat = Literal["text", "markdown"]


def expand_url(url: str, environ: Any = None, missing: str | None = None) -> str:
    """``${NAME}`` replaced by the variable's value; an unset one raises KeyError (naming the variable
    only) unless ``missing`` stands in for it."""
    env = os.environ if environ is None else environ

    def sub(m: re.Match[str]) -> str:
        value = env.get(m.group(1))
        if value is None:
            if missing is None:
                raise KeyError(m.group(1))
            return missing
        return str(value)

    return ENV_REF.sub(sub, url)


def redact(text: str, url: str, environ: Any = None) -> str:
    """``text`` (an error a destination answered) without the URL's secrets: the URL itself, its secret parts
    and the values of the variables it names (see :mod:`jobs.config.secrets`)."""
    env = os.environ if environ is None else environ
    if url in text:
        text = text.replace(url, mask(url))
    return scrub(text, url_secrets(url, env))


def quiet_apprise() -> None:
    """Keep Apprise's log out of the service's: it echoes destination URLs, secrets included. What it
    says is read through ``apprise.LogCapture`` only (called before each use, never at import)."""
    logging.getLogger("apprise").propagate = False
    # urllib3's debug line of each request holds its path and query: a webhook's key (WeCom's ?key=)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)


def _instantiate(url: str) -> Any:
    """Apprise's plugin for ``url``, or None; Apprise's own log (which may echo the URL) is swallowed."""
    import apprise

    quiet_apprise()
    with apprise.LogCapture(level=apprise.logging.DEBUG):
        return apprise.Apprise.instantiate(url, suppress_exceptions=True)


@functools.lru_cache(maxsize=64)
def plugin_formats(url: str) -> tuple[str, ...]:
    """The body formats Apprise's plugin for ``url`` sends (``text``, ``markdown``, ``html``)."""
    plugin = _instantiate(expand_url(url, missing=_PLACEHOLDER))
    if plugin is None:
        return ("text",)
    value = plugin.notify_format
    return tuple(str(f.value) for f in (value if isinstance(value, tuple) else (value,)))


def supports_attachments(url: str) -> bool:
    """Whether Apprise's plugin for ``url`` sends attachments (``json://``, ``form://``, email, ...)."""
    plugin = _instantiate(url)
    return bool(plugin is not None and plugin.attachment_support)


class Destination(Strict):
    name: str
    url: str
    lang: Lang = "zh"
    # personal alert threshold (percentile), like a chat's /settings choice; None: the global rules
    threshold: float | None = Field(None, gt=0, le=100)
    mute: bool = False
    # the alert rules this destination receives (ALERT_RULES); None: all of them, as a chat
    rules: tuple[str, ...] | None = None
    # the body: plain text or Markdown; None: Markdown where Apprise's plugin sends Markdown (see body_format)
    format: BodyFormat | None = None
    # the spread chart attached to spread alerts, where the service takes attachments
    chart: bool = True

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("empty: list at least one rule, or leave the key out for all rules")
        for rule in v:
            if rule not in ALERT_RULES:
                raise ValueError(f"unknown rule {rule!r} (known: {', '.join(ALERT_RULES)})")
        return v

    @property
    def body_format(self) -> BodyFormat:
        """What the destination is sent. Left out: Markdown where Apprise's plugin sends Markdown
        (DingTalk, Feishu, Lark; Bark with ``?format=markdown``), plain text elsewhere and for generic
        webhooks. ``markdown`` on a service Apprise sends as text only (e.g. its WeCom robot) would show
        the asterisks: plain text instead. A service of HTML (email) gets the Markdown as HTML."""
        formats = plugin_formats(self.url)
        if self.format == "text":
            return "text"
        if self.format == "markdown":
            return "text" if formats == ("text",) else "markdown"
        scheme = self.url.split("://", 1)[0].lower()
        return "markdown" if "markdown" in formats and scheme not in _PASS_THROUGH else "text"

    def receives(self, rule_id: str) -> bool:
        return self.rules is None or rule_id in self.rules

    @field_validator("name")
    @classmethod
    def _name_form(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("expected a short name of letters, digits, '_', '-' or '.'")
        return v

    @field_validator("url")
    @classmethod
    def _apprise_url(cls, v: str) -> str:
        # never echo the URL in the error: it may hold a secret
        if _instantiate(expand_url(v, missing=_PLACEHOLDER)) is None:
            raise ValueError("not a URL Apprise understands (see https://appriseit.com/services/)")
        return v


class NotifySettings(Strict):
    destinations: tuple[Destination, ...] = ()
    # consecutive failed sends after which a destination is paused and the admins are told
    pause_after_failures: int = Field(5, ge=1, le=100)
    # seconds between two messages to one destination (chat webhooks limit bursts)
    per_destination_interval_s: float = Field(2.0, ge=0, le=600)

    @model_validator(mode="after")
    def _unique_names(self) -> NotifySettings:
        seen: set[str] = set()
        for d in self.destinations:
            if d.name in seen:
                raise ValueError(f"destination name {d.name!r} is used twice")
            seen.add(d.name)
        return self


def destination_lines(notify: NotifySettings, environ: Any = None) -> list[str]:
    """What check-config prints about each destination: never a secret, only whether its variables are set."""
    env = os.environ if environ is None else environ
    lines = []
    for d in notify.destinations:
        refs = sorted(set(ENV_REF.findall(d.url)))
        status = "".join(f"; ${r}: {'set' if env.get(r) else 'NOT set'}" for r in refs)
        extra = f", {d.body_format}" + ("" if d.rules is None else f", rules: {', '.join(d.rules)}")
        lines.append(f"destination {d.name} ({d.lang}{extra}): {mask(d.url)}{status}")
    return lines
