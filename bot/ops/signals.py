"""SIGTERM for a delivery that runs in the foreground (``spreadwatch run-daily``): stop claiming rows, finish
the request in flight, mark it, and leave the rest for the next run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def stop_on_sigterm(stop: Callable[[], None]) -> Iterator[None]:
    """Within the running event loop, SIGTERM calls ``stop`` instead of ending the process at once."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
