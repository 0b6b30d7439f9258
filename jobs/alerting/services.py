"""What handlers, jobs and the CLI share, built once by the composition root (``bot.telegram.app``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from jobs.alerting.revision_notices import announce_revisions
from jobs.config.settings import Settings
from jobs.engine.pipeline import Engine, now_utc
from jobs.store.chats import ChatRepo
from jobs.store.datastore import Store


@dataclass
class Services:
    settings: Settings
    store: Store
    engine: Engine
    chats: ChatRepo
    clock: Callable[[], datetime] = field(default=now_utc)

    @classmethod
    def build(
        cls, settings: Settings, clock: Callable[[], datetime] = now_utc, store: Store | None = None
    ) -> Services:
        """The services on ``store`` (one already open, e.g. for the start-up summary), else on a new one."""
        store = store if store is not None else Store(settings.storage.target)
        engine = Engine(settings, store, announce_revisions=announce_revisions)
        return cls(settings=settings, store=store, engine=engine, chats=ChatRepo(store), clock=clock)
