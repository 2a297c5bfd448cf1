"""Outgoing requests: Telegram's flood limits, with answers to people ahead of broadcasts.

Telegram allows about 30 messages a second overall, one a second in one chat and 20 a
minute in one group, and answers 429 beyond. Every message the bot sends (``send*``,
``copy*``, ``forward*``) keeps all three, as rolling windows like Telegram's own: a
message holds its slot from the moment it is sent until one window after its answer came
back, so however the network delays it, Telegram never counts more in any window. In a
group, edits count toward its 20 a minute too. Other requests (edits in private chats,
answerCallbackQuery, deletes, getUpdates) are not paced; the person's own presses pace
them. python-telegram-bot's AIORateLimiter put every request with a chat_id, edits
included, into one 30/s bucket, which capped dialogs at 30 updates/s.

Two lanes share the overall 30/s. An *interactive* request (the default: what a handler
sends in answer to an update) takes any free slot at once and otherwise is next in line;
it waits only for its own chat's limit. A *broadcast* (``rate_limit_args=BROADCAST``, as
bot.outbound.delivery sends) takes at most ``overall - RESERVED`` slots, evenly spaced,
and none while an interactive request waits for one. A fan-out thereby runs at nearly
30/s while a reporter's dialog is answered as if it were not there.

Retries: a 429 is retried after the wait Telegram names (its chat waits as long, and for
a broadcast the whole lane); network errors and 5xx a few times with growing pauses. Bad
requests and 403 are never retried: they would fail the same way again.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# httpcore asks `import sniffio` on every request (several times); anyio 4 no longer brings
# it, and a failed import is not remembered, so each request searched sys.path for it:
# about 7 % of the bot's CPU per update in bench/dialogs.py. Remember the absence.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

BROADCAST = "broadcast"  # rate_limit_args of a message nobody is waiting for
INTERACTIVE = "interactive"
RESERVED = 1  # overall slots a broadcast leaves free for answers


@dataclass(frozen=True)
class Limit:
    """At most ``count`` messages in any rolling ``seconds``."""

    count: int
    seconds: float


OVERALL = Limit(30, 1.0)
PER_GROUP = Limit(20, 60.0)
CHAT_GAP_S = 1.0  # one message a second in one chat
FORGET_AT = 4096  # chats and groups remembered before idle ones are dropped
_SENDS = ("send", "copyMessage", "forwardMessage")


def is_send(endpoint: str) -> bool:
    """A message Telegram counts toward its flood limits."""
    return endpoint.startswith(_SENDS) and endpoint != "sendChatAction"


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


def retry_after_seconds(exc: RetryAfter) -> float:
    value = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


class Window:
    """Slots of one rolling window: in flight, or answered less than ``seconds`` ago."""

    __slots__ = ("expiries", "in_flight", "limit")

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.in_flight = 0
        self.expiries: deque[float] = deque()  # answered at + seconds; in order

    def busy(self, now: float) -> int:
        while self.expiries and self.expiries[0] <= now:
            self.expiries.popleft()
        return self.in_flight + len(self.expiries)

    def next_free(self) -> float | None:
        """When the next slot frees; None while every slot is still in flight."""
        return self.expiries[0] if self.expiries else None

    def release(self, now: float) -> None:
        self.in_flight -= 1
        self.expiries.append(now + self.limit.seconds)


class _Chat:
    __slots__ = ("free_at", "in_flight")

    def __init__(self) -> None:
        self.in_flight = 0
        self.free_at = float("-inf")  # the next message to this chat may start then


class RetryingRateLimiter(BaseRateLimiter[Any]):
    """Telegram's limits for every message; interactive answers first; retries.

    ``clock`` (the event loop's by default) measures the windows. ``window_sleep`` waits
    for the overall and group windows and after a 429; ``sleep`` is the short pauses tests
    may skip: back-off between network retries and the gap between two messages to one
    chat (bot.outbound.delivery reuses it). ``waited`` adds up, per (lane, limit), the
    time requests waited for a limit, ``sent`` and ``answered_in`` count the messages per
    lane and their round trips: the limiter's own accounting for tests and benches.
    """

    def __init__(self, *, network_retries: int = 3, first_pause: float = 0.5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 max_retries: int = 3, overall: Limit = OVERALL, per_group: Limit = PER_GROUP,
                 chat_gap: float = CHAT_GAP_S, reserved: int = RESERVED,
                 clock: Callable[[], float] = _loop_time,
                 window_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.network_retries = network_retries
        self.first_pause = first_pause
        self.sleep = sleep  # injectable: tests pass a no-op, delivery pacing reuses it
        self.max_retries = max_retries
        self.per_group, self.chat_gap = per_group, chat_gap
        self.clock, self.window_sleep = clock, window_sleep
        self.broadcast_share = max(1, overall.count - reserved)
        self._overall = Window(overall)
        self._groups: dict[int | str, Window] = {}
        self._chats: dict[int | str, _Chat] = {}
        self._interactive_waiting = 0
        self._broadcast_turn = asyncio.Lock()
        self._broadcast_next = float("-inf")  # earliest start of the next broadcast
        self._released: list[asyncio.Future[None]] = []
        self._forget_at = FORGET_AT
        self.waited: Counter[tuple[str, str]] = Counter()
        self.sent: Counter[str] = Counter()
        self.answered_in: Counter[str] = Counter()  # seconds messages took to be answered

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        lane = BROADCAST if rate_limit_args == BROADCAST else INTERACTIVE
        max_retries = rate_limit_args if isinstance(rate_limit_args, int) else self.max_retries
        chat_id = _chat_key(data.get("chat_id"))
        send = chat_id is not None and is_send(endpoint)
        group = chat_id if _is_group(chat_id) and (send or endpoint.startswith("edit")) else None
        flood_retries = network_failures = 0
        pause = self.first_pause
        while True:
            try:
                return await self._paced(lane, chat_id if send else None, group, send,
                                         callback, args, kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc) + 0.1
                self._hold(lane, chat_id if send else None, wait)
                if flood_retries == max_retries:
                    log.warning("%s: still flood-limited after %d retries", endpoint,
                                max_retries)
                    raise
                flood_retries += 1
                log.info("%s: flood limit; retrying in %.1fs", endpoint, wait)
                await self.window_sleep(wait)
            except BadRequest:
                raise
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                if network_failures == self.network_retries:
                    raise
                network_failures += 1
                log.warning("%s failed (%s); retry %d in %.1fs", endpoint, exc,
                            network_failures, pause)
                await self.sleep(pause)
                pause *= 2

    # ------------------------------------------------------------ one request

    async def _paced(self, lane: str, chat_id, group, send: bool, callback, args, kwargs):
        """Wait for every limit that applies, send, and keep the slots for their windows.

        An answer takes its chat's turn first and goes out right after. A broadcast takes
        its overall turn first and its chat's turn last: waiting in the broadcast's queue
        never holds a chat against an answer to that person.
        """
        chat = window = None
        overall = False
        try:
            if lane == INTERACTIVE and chat_id is not None:
                chat = await self._chat_turn(lane, chat_id)
            if group is not None:
                taking = self._groups.setdefault(group, Window(self.per_group))
                await self._take(taking, lane, "group")
                window = taking
            if send:
                await self._take_overall(lane)
                overall = True
            if chat is None and chat_id is not None:
                chat = await self._chat_turn(lane, chat_id)
            began = self.clock()
            try:
                return await callback(*args, **kwargs)
            finally:
                now = self.clock()
                if overall:
                    self._overall.release(now)
                    self.sent[lane] += 1
                    self.answered_in[lane] += now - began
                    overall = False
                if window is not None:
                    window.release(now)
                    window = None
        finally:  # what is still taken here was never sent (cancelled while waiting)
            if overall:
                self._overall.in_flight -= 1
            if window is not None:
                window.in_flight -= 1
            if chat is not None:
                chat.in_flight -= 1
                chat.free_at = max(chat.free_at, self.clock()) + self.chat_gap
            self._notify()
            self._forget_idle()

    async def _chat_turn(self, lane: str, chat_id) -> _Chat:
        """Wait until this chat may get its next message, and reserve that turn."""
        chat = self._chats.setdefault(chat_id, _Chat())
        while chat.in_flight:
            await self._wait_release()
        chat.in_flight = 1
        wait = chat.free_at - self.clock()
        if wait > 0:
            self.waited[lane, "chat"] += wait
            try:
                await self.sleep(wait)
            except BaseException:
                chat.in_flight = 0
                self._notify()
                raise
        return chat

    async def _take(self, window: Window, lane: str, name: str) -> None:
        """Wait for a free slot of ``window`` and take it."""
        began = self.clock()
        while window.busy(self.clock()) >= window.limit.count:
            await self._until(window.next_free())
        window.in_flight += 1
        self.waited[lane, name] += self.clock() - began

    async def _take_overall(self, lane: str) -> None:
        if lane == INTERACTIVE:
            self._interactive_waiting += 1
            try:
                await self._take(self._overall, lane, "overall")
            finally:
                self._interactive_waiting -= 1
            return
        async with self._broadcast_turn:  # broadcasts one after the other, evenly spaced
            began = self.clock()
            while True:
                now = self.clock()
                if now < self._broadcast_next:
                    await self.window_sleep(self._broadcast_next - now)
                elif self._interactive_waiting or \
                        self._overall.busy(now) >= self.broadcast_share:
                    await self._until(self._overall.next_free())
                else:
                    break
            self._overall.in_flight += 1
            spacing = self._overall.limit.seconds / self.broadcast_share
            # The schedule, not the (late-waking) sleeper, sets the pace; a lag of up to one
            # spacing is made up, a longer pause is not (the window still bounds any burst).
            self._broadcast_next = max(self._broadcast_next, now - spacing) + spacing
            self.waited[lane, "overall"] += now - began

    def _hold(self, lane: str, chat_id, seconds: float) -> None:
        """After a 429: nothing more to this chat, and no broadcast, for ``seconds``."""
        until = self.clock() + seconds
        if chat_id is not None:
            chat = self._chats.setdefault(chat_id, _Chat())
            chat.free_at = max(chat.free_at, until)
        if lane == BROADCAST:
            self._broadcast_next = max(self._broadcast_next, until)

    # ------------------------------------------------------------ waiting

    async def _until(self, moment: float | None) -> None:
        """Until ``moment`` (a slot frees), or while every slot is in flight, a release."""
        if moment is None:
            await self._wait_release()
        else:
            await self.window_sleep(max(moment - self.clock(), 0.0))

    async def _wait_release(self) -> None:
        future = asyncio.get_running_loop().create_future()
        self._released.append(future)
        await future

    def _notify(self) -> None:
        waiting, self._released = self._released, []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    def _forget_idle(self) -> None:
        """Drop chats and groups with nothing pending (amortised: when the maps doubled)."""
        if len(self._chats) + len(self._groups) < self._forget_at:
            return
        now = self.clock()
        self._chats = {k: c for k, c in self._chats.items()
                       if c.in_flight or c.free_at > now}
        self._groups = {k: w for k, w in self._groups.items() if w.busy(now)}
        self._forget_at = max(FORGET_AT, 2 * (len(self._chats) + len(self._groups)))


def _chat_key(chat_id: object) -> int | str | None:
    """One key per chat, whether PTB got the id as a number or a string."""
    if isinstance(chat_id, str):
        try:
            return int(chat_id)
        except ValueError:
            return chat_id  # @channelusername
    return chat_id if isinstance(chat_id, int) else None


def _is_group(chat_id: int | str | None) -> bool:
    return isinstance(chat_id, str) or (isinstance(chat_id, int) and chat_id < 0)
