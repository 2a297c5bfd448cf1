"""Where a Telegram update enters: fetched, stored durably, then handled.

``DurablePoller`` replaces python-telegram-bot's Updater. It writes every
fetched update to the inbox table *before* the next getUpdates call confirms
it to Telegram, replays unhandled inbox rows at start, and prunes handled rows
once an hour. The offset it sends is the one the newest batch confirmed, and
only while that batch is recent: after a week without updates Telegram may
number the next one lower than any seen before. ``ChatSerialProcessor``
handles updates of one chat in order and different chats concurrently, and
marks each update done in the inbox when its handlers have run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, BaseUpdateProcessor

from storage.inbox import Inbox

log = logging.getLogger(__name__)

POLL_TIMEOUT_S = 25
MAX_BACKOFF_S = 60.0
# Handled updates are kept (without content) this long; Telegram keeps its own 24 h.
INBOX_KEEP = timedelta(days=2)
# The offset of a batch is sent only this long after the batch arrived. Longer than
# Telegram's 24 h, so a stored but unconfirmed batch is confirmed, not resent; much
# shorter than the quiet week after which ids may restart lower, where an old offset
# would confirm (drop) updates never fetched; and no longer than INBOX_KEEP, so an
# update Telegram resends to a poll without offset is still known by its stored id.
OFFSET_TRUSTED = INBOX_KEEP
# How often the poll loop forgets handled updates older than INBOX_KEEP. Until then a
# new update given the random id of an old one would be taken for a repeat.
PRUNE_EVERY = timedelta(hours=1)


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after is an int or a timedelta depending on PTB settings."""
    value = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


def chat_key(update: object) -> int | None:
    """Updates with the same key are handled one after the other."""
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


class ChatSerialProcessor(BaseUpdateProcessor):
    """In order per chat, concurrent across chats; marks handled updates done."""

    def __init__(self, inbox: Inbox, clock: Callable[[], datetime],
                 max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._inbox = inbox
        self._clock = clock
        self._locks: dict[int | None, asyncio.Lock] = {}
        self._waiting: dict[int | None, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                try:
                    await coroutine
                finally:
                    if isinstance(update, Update):
                        # Done even when a handler failed: the error handler has
                        # told the user, and a poison update must not loop forever.
                        await self._inbox.mark_done(update.update_id, self._clock())
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class DurablePoller:
    """getUpdates → inbox (committed) → Application.update_queue."""

    def __init__(self, application: Application, inbox: Inbox,
                 clock: Callable[[], datetime], poll_timeout: int = POLL_TIMEOUT_S) -> None:
        self.application = application
        self.inbox = inbox
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.offset: int | None = None
        self._offset_from: datetime | None = None  # when the batch behind the offset came
        self._pruned_at: datetime | None = None
        self._stopping = asyncio.Event()

    async def resume(self) -> int:
        """Queue what was stored but not handled before the last stop or crash."""
        await self.prune_if_due(force=True)
        batch = await self.inbox.newest_batch()
        if batch is None:
            self.offset = self._offset_from = None
        else:
            self.offset, self._offset_from = batch.offset, batch.received_at
        pending = await self.inbox.pending()
        for _, payload in pending:
            await self._enqueue(payload)
        if pending:
            log.info("replaying %d stored update(s) from before the restart", len(pending))
        return len(pending)

    async def poll_once(self, timeout: int = 0) -> int:  # noqa: ASYNC109 (Bot API long poll)
        """One getUpdates round; returns how many new updates were queued."""
        await self.prune_if_due()
        updates = await self.application.bot.get_updates(
            offset=self._trusted_offset(), timeout=timeout, allowed_updates=Update.ALL_TYPES
        )
        if not updates:
            return 0
        # Decoded once (by get_updates); to_dict only gives the stored form.
        fetched = {u.update_id: u for u in updates}
        payloads = {update_id: u.to_dict() for update_id, u in fetched.items()}
        received_at = self.clock()
        new_ids = await self.inbox.store(list(payloads.items()), received_at)
        # Only now may the next getUpdates confirm these updates to Telegram. Within a
        # batch the ids are consecutive; across batches they may jump (see OFFSET_TRUSTED).
        self.offset, self._offset_from = max(payloads) + 1, received_at
        for update_id in new_ids:
            await self.application.update_queue.put(fetched[update_id])
        return len(new_ids)

    async def prune_if_due(self, *, force: bool = False) -> None:
        """Forget handled updates older than INBOX_KEEP, at most every PRUNE_EVERY."""
        now = self.clock()
        if not force and self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        removed = await self.inbox.prune(now - INBOX_KEEP)
        if removed:
            log.debug("pruned %d handled update(s) from the inbox", removed)

    def _trusted_offset(self) -> int | None:
        """The offset, unless its batch is so old that the ids may have restarted."""
        if self.offset is not None and self._offset_from is not None \
                and self.clock() - self._offset_from > OFFSET_TRUSTED:
            log.info("no updates for %s: polling without offset (ids may have restarted)",
                     self.clock() - self._offset_from)
            self.offset = self._offset_from = None
        return self.offset

    async def run(self) -> None:
        """Poll until ``stop()``; network trouble backs off, never ends the loop."""
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                await self.poll_once(self.poll_timeout)
                backoff = 1.0
            except InvalidToken:
                raise
            except RetryAfter as exc:
                await self._pause(retry_seconds(exc))
            except Conflict:
                log.error("another process polls this bot token; waiting %.0fs", backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            except (TimedOut, NetworkError) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def stop(self) -> None:
        self._stopping.set()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _enqueue(self, payload: dict[str, Any]) -> None:
        update = Update.de_json(payload, self.application.bot)
        await self.application.update_queue.put(update)
