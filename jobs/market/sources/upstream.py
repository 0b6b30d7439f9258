"""Calling akshare safely: blocking calls with a timeout, bounded retries with backoff, quiet imports.

akshare uses ``requests`` without timeouts; ``socket.setdefaulttimeout`` does not reach them, but a
default ``timeout`` injected into ``requests.Session.request`` does. akshare is imported here, lazily,
because importing it costs about a second and 100 MB.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import RetryError, Retrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_none

from jobs.market.sources.base import FetchError

log = logging.getLogger(__name__)
T = TypeVar("T")

_lock = threading.Lock()
_default_timeout: list[float] = [20.0]
_installed = False


def install_default_timeout(seconds: float) -> None:
    """Give every ``requests`` call without an explicit timeout this one."""
    global _installed
    import requests

    with _lock:
        _default_timeout[0] = seconds
        if _installed:
            return
        original = requests.Session.request

        def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = _default_timeout[0]
            return original(self, method, url, *args, **kwargs)

        requests.Session.request = request  # type: ignore[method-assign,assignment]
        _installed = True


def akshare() -> Any:
    """Import akshare on first use, with its import-time noise silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import akshare as ak
    return ak


def _retryable(exc: BaseException) -> bool:
    # A payload we could not parse will not parse better on a retry only if upstream is broken for
    # good; we still retry (upstream often serves error pages briefly), but never our own bugs.
    return not isinstance(exc, (TypeError, AttributeError, NameError, AssertionError))


def call_upstream(
    what: str,
    fn: Callable[..., T],
    *args: Any,
    timeout_s: float,
    retries: int,
    backoff_s: float,
    **kwargs: Any,
) -> T:
    """Call a blocking upstream function with a timeout and ``retries`` retries; raise FetchError."""
    install_default_timeout(timeout_s)
    retrying = Retrying(
        stop=stop_after_attempt(retries + 1),
        wait=wait_exponential(multiplier=backoff_s, max=backoff_s * 8) if backoff_s > 0 else wait_none(),
        retry=retry_if_exception(_retryable),
        before_sleep=lambda rs: log.warning(
            "%s failed (attempt %d): %s; retrying",
            what,
            rs.attempt_number,
            rs.outcome.exception() if rs.outcome else "?",
        ),
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # verify=False and pandas FutureWarnings inside akshare
            return retrying(fn, *args, **kwargs)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise FetchError(f"{what}: {_describe(last)}") from last
    except Exception as exc:  # non-retryable
        raise FetchError(f"{what}: {_describe(exc)}") from exc


def _describe(exc: BaseException | None) -> str:
    """akshare parses without checking: an error page or an empty answer surfaces as a parse error."""
    text = f"{type(exc).__name__}: {exc}"
    if "JSONDecodeError" in type(exc).__name__:
        return f"the answer is not JSON (an error page?): {text}"
    if isinstance(exc, KeyError):
        return f"the answer lacks the expected fields (empty or changed upstream format): {text}"
    return text
