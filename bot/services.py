"""What every handler and job needs, built once and shared through bot_data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from est.config import DeploymentConfig
from messages.render import Messages
from storage.db import Database
from storage.inbox import Inbox


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    config: DeploymentConfig
    db: Database
    clock: Callable[[], datetime] = utc_now
    messages: Messages = field(init=False)
    inbox: Inbox = field(init=False)

    def __post_init__(self) -> None:
        self.messages = Messages(self.config.tz, config=self.config)
        self.inbox = Inbox(self.db)

    def now(self) -> datetime:
        return self.clock()

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.config.tz)

    def render(self, template: str, macro: str, /, **context: object) -> str:
        return self.messages.render(template, macro, **context)
