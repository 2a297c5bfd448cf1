"""What every handler and job needs, built once and shared through bot_data."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime

from est.config import DeploymentConfig
from messages.render import Messages
from storage.db import Database
from storage.inbox import Inbox

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: DeploymentConfig
    db: Database
    clock: Callable[[], datetime] = utc_now
    messages: Messages = field(init=False)
    inbox: Inbox = field(init=False)
    _background: set[asyncio.Task] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.messages = Messages(self.config.tz, config=self.config)
        self.inbox = Inbox(self.db)

    def spawn(self, work: Coroutine, name: str) -> asyncio.Task:
        """Run fan-out after the handler has answered: nobody waits on it in chat."""
        task = asyncio.create_task(self._guarded(work, name), name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def drain(self) -> None:
        """Wait for background work (shutdown, and tests that want a settled state)."""
        while self._background:
            await asyncio.gather(*list(self._background))

    @staticmethod
    async def _guarded(work: Coroutine, name: str) -> None:
        try:
            await work
        except Exception:
            log.exception("background task %s failed", name)

    def now(self) -> datetime:
        return self.clock()

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.config.tz)

    def render(self, template: str, macro: str, /, **context: object) -> str:
        return self.messages.render(template, macro, **context)
