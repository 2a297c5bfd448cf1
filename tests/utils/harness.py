"""The bot as a user meets it: the real Application against the fake Telegram.

``BotUnderTest`` runs the same wiring as ``lagesbild run`` (gatekeeper, handlers,
durable inbox, per-chat processor) in-process, with the fake Bot API behind
python-telegram-bot's request seam. ``settle()`` polls and waits until every
update has been handled, so tests never sleep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.app import build_application
from bot.core.rate_limit import RetryingRateLimiter
from bot.core.services import Services
from bot.core.updates import DurablePoller
from est.config import DeploymentConfig
from storage.db import Database
from tests.fake_telegram import FakeRequest, FakeTelegram

Message = dict[str, Any]


class FakeClock:
    """A UTC clock that only moves when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 20, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def _no_sleep(_seconds: float) -> None:
    return None


class BotUnderTest:
    def __init__(self, fake: FakeTelegram, database_url: str, config: DeploymentConfig,
                 clock: FakeClock) -> None:
        self.fake, self.database_url, self.config, self.clock = fake, database_url, config, clock
        self.application = None
        self.poller: DurablePoller | None = None
        self.db: Database | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    async def start(self) -> BotUnderTest:
        self.db = Database(self.database_url)
        services = Services(config=self.config, db=self.db, clock=self.clock)
        self.application = build_application(
            services, self.fake.token, request=FakeRequest(self.fake),
            get_updates_request=FakeRequest(self.fake),
            rate_limiter=RetryingRateLimiter(sleep=_no_sleep),
        )
        await self.application.initialize()
        await self.application.start()
        self.poller = DurablePoller(self.application, services.inbox, self.clock)
        await self.poller.resume()
        await self.application.update_queue.join()
        await services.drain()  # what the replayed updates started in the background
        return self

    async def settle(self) -> None:
        """Fetch and handle updates until Telegram has nothing more for the bot."""
        while True:
            fetched = await self.poller.poll_once(0)
            await self.application.update_queue.join()
            await self.services.drain()
            if not fetched and not self.fake.pending_update_count():
                return

    async def stop(self) -> None:
        if self.application is None:
            return
        if self.application.running:
            # As the runner does: background work finishes before the database goes, so
            # no task is left holding a connection in an open transaction.
            await self.services.drain()
            await self.application.stop()
        await self.application.shutdown()
        await self.db.dispose()
        self.application = None

    async def restart(self) -> BotUnderTest:
        """A new process on the same database and the same Telegram."""
        await self.stop()
        return await self.start()

    def person(self, user_id: int, first_name: str = "Anna") -> Person:
        self.fake.user(user_id, first_name)
        return Person(self, user_id)


@dataclass
class Person:
    """A Telegram user talking to the bot in a private chat."""

    bot: BotUnderTest
    user_id: int

    @property
    def fake(self) -> FakeTelegram:
        return self.bot.fake

    async def send(self, text: str) -> Message:
        self.fake.send_text(self.user_id, text)
        await self.bot.settle()
        return self.last

    async def share_location(self, lat: float, lon: float,
                             live_period: int | None = None) -> Message:
        self.fake.share_location(self.user_id, lat, lon, live_period=live_period)
        await self.bot.settle()
        return self.last

    async def move_live_location(self, lat: float, lon: float,
                                 message: Message | int | None = None) -> Message:
        """The live location this person shares (by default their newest) moves."""
        if message is None:
            message = next(m for m in reversed(self.sent) if "location" in m)
        self.fake.move_live_location(self.user_id, message, lat, lon)
        await self.bot.settle()
        return self.last

    async def reply(self, text: str, to: Message | int) -> Message:
        """A text sent as a reply to an earlier message of this chat (either side's)."""
        message_id = to if isinstance(to, int) else to["message_id"]
        self.fake.send_text(self.user_id, text, reply_to=message_id)
        await self.bot.settle()
        return self.last

    async def edit(self, text: str, message: Message | int | None = None) -> Message:
        """Edit a text this person sent earlier, by default their newest one."""
        target = message if message is not None else self.sent[-1]
        self.fake.edit_text(self.user_id, target, text)
        await self.bot.settle()
        return self.last

    async def send_photo(self, caption: str | None = None) -> Message:
        self.fake.send_photo(self.user_id, caption=caption)
        await self.bot.settle()
        return self.last

    async def send_voice(self, duration: int = 4) -> Message:
        self.fake.send_voice(self.user_id, duration)
        await self.bot.settle()
        return self.last

    async def send_sticker(self, emoji: str = "👍") -> Message:
        self.fake.send_sticker(self.user_id, emoji)
        await self.bot.settle()
        return self.last

    async def send_document(self, file_name: str = "bild.pdf",
                            caption: str | None = None) -> Message:
        self.fake.send_document(self.user_id, file_name, caption=caption)
        await self.bot.settle()
        return self.last

    async def send_content(self, content: dict[str, Any]) -> Message:
        """Any other kind of message by its Bot API fields, e.g. ``{"dice": {...}}``."""
        self.fake.send_content(self.user_id, content)
        await self.bot.settle()
        return self.last

    async def click(self, label: str, message: Message | None = None) -> Message:
        """Press a button on ``message``, by default the newest bot message with buttons."""
        target = message or self.last_with_buttons
        self.fake.click(self.user_id, target, label)
        await self.bot.settle()
        return self.last

    @property
    def last(self) -> Message:
        return self.fake.last_bot_message(self.user_id)

    @property
    def last_with_buttons(self) -> Message:
        for message in reversed(self.fake.bot_messages(self.user_id)):
            if message.get("reply_markup"):
                return message
        raise AssertionError(f"no bot message with buttons in chat {self.user_id}")

    @property
    def sent(self) -> list[Message]:
        """This person's own messages in the chat that are still there, oldest first."""
        return [m for m in self.fake.messages(self.user_id)
                if m.get("from", {}).get("id") == self.user_id]

    def buttons(self, message: Message | None = None) -> list[str]:
        return self.fake.buttons(message or self.last_with_buttons, chat_id=self.user_id)

    def texts(self) -> list[str]:
        messages = self.fake.bot_messages(self.user_id)
        return [m.get("text") or m.get("caption") or "" for m in messages]
