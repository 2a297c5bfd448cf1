"""Telegram's flood limits: answers to people do not queue behind a broadcast; a fan-out
stays within every limit (the fake's 429 count) at nearly the allowed 30 a second.

The scenarios run on an event loop whose clock is virtual (``VirtualTimeLoop``): the
fake, the rate limiter and the delivery pacing all read the loop's time, and the loop
jumps to its next timer whenever it has nothing else to do. A second of Telegram's
limits costs microseconds, and the durations asserted below are virtual seconds,
exact up to the float arithmetic: no wall clock is involved.
"""

from __future__ import annotations

import asyncio
import selectors
from datetime import UTC, datetime

from telegram.ext import ExtBot

from bot.core import rate_limit
from bot.core.app import build_application
from bot.core.rate_limit import BROADCAST, INTERACTIVE, RetryingRateLimiter
from bot.core.services import Services
from bot.outbound import delivery
from bot.outbound.posts import Post
from storage.db import Database
from tests.fake_telegram import FakeRequest, FakeTelegram
from tests.fake_telegram.ratelimit import enforce_telegram_limits
from tests.utils.harness import FakeClock

AT = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
FIRST_CHAT = 9_100_001  # far from other tests' chats (delivery's per-chat pacing is global)


# ---------------------------------------------------------------- virtual time

class _FastForward:
    """The loop's selector: when nothing is ready, move the clock instead of waiting.

    ``max_step`` bounds each jump and waits a little for real, so that work in other
    threads (aiosqlite) still finishes before a long timer (a pool timeout) is reached.
    """

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop,
                 max_step: float | None) -> None:
        self._inner, self._loop, self._max_step = inner, loop, max_step

    def select(self, timeout: float | None = None):
        if timeout is None or timeout <= 0:
            return self._inner.select(timeout)
        if self._max_step is None:
            events = self._inner.select(0)
            step = timeout
        else:
            events = self._inner.select(min(timeout, 0.0005))
            step = min(timeout, self._max_step)
        if not events:
            self._loop.now += step
        return events

    def __getattr__(self, name: str):
        return getattr(self._inner, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, *, start: float = 1000.0, max_step: float | None = None) -> None:
        super().__init__()
        self.now = start
        self._selector = _FastForward(self._selector, self, max_step)

    def time(self) -> float:
        return self.now


def run_virtual(scenario, *, max_step: float | None = None):
    loop = VirtualTimeLoop(max_step=max_step)
    try:
        return loop.run_until_complete(scenario(loop))
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


def telegram(loop: VirtualTimeLoop, chats: range) -> FakeTelegram:
    """A fake on the loop's clock with Telegram's strict limits; ``chats`` have /start-ed."""
    fake = FakeTelegram(clock=loop.time)
    enforce_telegram_limits(fake)
    for chat_id in chats:
        fake.user(chat_id, f"P{chat_id}")
        fake.send_text(chat_id, "/start")
    fake.handle("deleteWebhook", {"drop_pending_updates": True})
    return fake


async def reporters(bot, loop, fake: FakeTelegram, chats: range, steps: int, *,
                    send_every: int = 4, latencies: list[float],
                    openings: list[float] | None = None) -> None:
    """People in a dialog: a step a second each (staggered), every few a new message."""
    async def one(index: int, chat_id: int) -> None:
        await asyncio.sleep(2 * index / len(chats))
        began = loop.time()
        dialog = await bot.send_message(chat_id, "Område?")
        if openings is not None:
            openings.append(loop.time() - began)
        for step in range(steps):
            began = loop.time()
            if step and (step + index) % send_every == 0:
                dialog = await bot.send_message(chat_id, f"Steg {step}")
            else:
                await bot.edit_message_text(f"Steg {step}", chat_id=chat_id,
                                            message_id=dialog.message_id)
            latencies.append(loop.time() - began)
            await asyncio.sleep(1.0)

    await asyncio.gather(*(one(i, c) for i, c in enumerate(chats)))


# ---------------------------------------------------------------- the limiter alone

def test_interactive_answers_do_not_wait_behind_a_broadcast():
    members = range(FIRST_CHAT, FIRST_CHAT + 600)
    people = range(FIRST_CHAT + 1000, FIRST_CHAT + 1040)

    async def scenario(loop):
        fake = telegram(loop, range(members.start, people.stop))
        limiter = RetryingRateLimiter()
        bot = ExtBot(fake.token, request=FakeRequest(fake), rate_limiter=limiter)
        await bot.initialize()
        todo, done_at, latencies, openings = iter(members), [], [], []

        async def worker() -> None:
            for chat_id in todo:
                await bot.send_message(chat_id, "Utsättning", rate_limit_args=BROADCAST)
                done_at.append(loop.time())

        start = loop.time()
        await asyncio.gather(*(worker() for _ in range(64)),
                             reporters(bot, loop, fake, people, 12, latencies=latencies,
                                       openings=openings))
        await bot.shutdown()
        return fake, limiter, done_at[-1] - start, latencies, openings

    fake, limiter, took, latencies, openings = run_virtual(scenario)
    assert fake.rate_limit_hits == []  # 30/s overall and 1/s per chat were kept throughout
    # 40 people each took a step a second (40 edits and 10 new messages a second, on top
    # of the broadcast's 29): most steps waited for nothing, none for more than a slot or
    # two of the overall window. Behind the broadcast's queue (64 messages waiting) a step
    # would wait over 2 s; with its edits in one 30/s bucket, ever longer.
    assert sorted(latencies)[len(latencies) // 2] == 0
    assert max(latencies) < 0.1
    # Even the dialogs' first messages, 20 a second while the broadcast had filled the
    # window, waited for the next freed slots, never for the broadcast's queue.
    assert max(openings) < 1.0
    sent_to_people = sum(fake.sent_count(c) for c in people)
    assert limiter.sent[INTERACTIVE] == sent_to_people > 100
    # The broadcast is the one that waited its turns, and still went out close to
    # Telegram's 30/s for everything sent meanwhile.
    assert limiter.sent[BROADCAST] == 600
    assert limiter.waited[BROADCAST, "overall"] > 5 * limiter.waited[INTERACTIVE, "overall"]
    total = 600 + sent_to_people
    assert total / 30 <= took <= total / 30 * 1.15


def test_a_broadcast_alone_runs_within_fifteen_percent_of_thirty_a_second():
    members = range(FIRST_CHAT + 2000, FIRST_CHAT + 2900)

    async def scenario(loop):
        fake = telegram(loop, members)
        bot = ExtBot(fake.token, request=FakeRequest(fake), rate_limiter=RetryingRateLimiter())
        await bot.initialize()
        todo = iter(members)

        async def worker() -> None:
            for chat_id in todo:
                await bot.send_message(chat_id, "Utsättning", rate_limit_args=BROADCAST)

        start = loop.time()
        await asyncio.gather(*(worker() for _ in range(64)))
        took = loop.time() - start
        await bot.shutdown()
        return fake, took

    fake, took = run_virtual(scenario)
    assert fake.rate_limit_hits == []
    assert fake.sent_count() == 900
    assert 900 / 30 <= took <= 900 / 30 * 1.15


def test_one_chat_gets_one_message_a_second_from_both_lanes():
    chat = FIRST_CHAT + 3000

    async def scenario(loop):
        fake = telegram(loop, range(chat, chat + 1))
        limiter = RetryingRateLimiter()
        bot = ExtBot(fake.token, request=FakeRequest(fake), rate_limiter=limiter)
        await bot.initialize()
        await asyncio.gather(
            *(bot.send_message(chat, f"del {i}", rate_limit_args=BROADCAST) for i in range(3)),
            *(bot.send_message(chat, f"svar {i}") for i in range(3)))
        took = loop.time() - 1000.0
        await bot.shutdown()
        return fake, limiter, took

    fake, limiter, took = run_virtual(scenario)
    assert fake.rate_limit_hits == []
    assert fake.sent_count(chat) == 6
    assert took >= 5  # six messages, one a second
    assert limiter.waited[INTERACTIVE, "chat"] > 0  # the answers kept the chat's limit too


def test_a_group_gets_at_most_twenty_a_minute_and_edits_count():
    group = -9_100_500

    async def scenario(loop):
        fake = FakeTelegram(clock=loop.time)
        enforce_telegram_limits(fake)
        fake.user(7, "Admin")
        fake.create_group(group, "Grupp")
        fake.add_bot_to_group(group, 7)
        bot = ExtBot(fake.token, request=FakeRequest(fake), rate_limiter=RetryingRateLimiter())
        await bot.initialize()
        first = await bot.send_message(group, "0", rate_limit_args=BROADCAST)
        for i in range(1, 15):
            await bot.send_message(group, str(i), rate_limit_args=BROADCAST)
        for i in range(5):
            await bot.edit_message_text(f"ändrad {i}", chat_id=group,
                                        message_id=first.message_id)
        edits_done = loop.time() - 1000.0
        for i in range(3):
            await bot.send_message(group, f"sist {i}")
        took = loop.time() - 1000.0
        await bot.shutdown()
        return fake, edits_done, took

    fake, edits_done, took = run_virtual(scenario)
    assert fake.rate_limit_hits == []
    assert fake.sent_count(group) == 18
    assert edits_done < 60  # 15 messages and 5 edits: the group's 20 in a minute
    assert took >= 60  # the 21st waits until the first is a minute old


def test_a_429_is_waited_out_and_retried():
    chat = FIRST_CHAT + 4000

    async def scenario(loop):
        fake = telegram(loop, range(chat, chat + 1))
        fake.inject("sendMessage", "429", chat_id=chat, retry_after=5)
        bot = ExtBot(fake.token, request=FakeRequest(fake), rate_limiter=RetryingRateLimiter())
        await bot.initialize()
        await bot.send_message(chat, "hej", rate_limit_args=BROADCAST)
        took = loop.time() - 1000.0
        await bot.shutdown()
        return fake, took

    fake, took = run_virtual(scenario)
    assert fake.sent_count(chat) == 1
    assert took >= 5


def test_only_messages_are_paced():
    assert rate_limit.is_send("sendMessage") and rate_limit.is_send("sendPhoto")
    assert rate_limit.is_send("copyMessage") and rate_limit.is_send("forwardMessages")
    assert not rate_limit.is_send("sendChatAction")
    assert not rate_limit.is_send("editMessageText")
    assert not rate_limit.is_send("answerCallbackQuery")


# ---------------------------------------------------------------- the real delivery

def test_the_briefing_fan_out_keeps_every_limit_while_people_are_answered(database_url,
                                                                           config):
    members = range(FIRST_CHAT + 5000, FIRST_CHAT + 5240)
    people = range(FIRST_CHAT + 6000, FIRST_CHAT + 6020)
    post = Post(texts=["<b>Utsättning</b> del 1", "Utsättning del 2"])

    async def scenario(loop):
        fake = telegram(loop, range(members.start, people.stop))
        services = Services(config=config, db=Database(database_url), clock=FakeClock(AT))
        limiter = RetryingRateLimiter()
        application = build_application(services, fake.token, request=FakeRequest(fake),
                                        get_updates_request=FakeRequest(fake),
                                        rate_limiter=limiter)
        await application.initialize()
        bot, latencies = application.bot, []
        try:
            row, _ = await asyncio.gather(
                delivery.broadcast(services, bot, kind="briefing", period="2026-11-27",
                                   scheduled_for=AT, post=post,
                                   recipients=[(c, None, None) for c in members]),
                reporters(bot, loop, fake, people, 8, latencies=latencies))
        finally:
            await application.shutdown()
            await services.db.dispose()
        return fake, limiter, row, latencies

    fake, limiter, row, latencies = run_virtual(scenario, max_step=0.05)
    assert fake.rate_limit_hits == []  # 30/s, 1/s per chat (two parts each): never over
    assert row.status == "done"
    for chat_id in members:
        assert [m["text"] for m in fake.bot_messages(chat_id)] == [
            "Utsättning del 1", "Utsättning del 2"]
    assert limiter.sent[BROADCAST] == 2 * len(members)
    assert limiter.waited[INTERACTIVE, "overall"] <= len(latencies) / 28
    assert max(latencies) < 0.1
