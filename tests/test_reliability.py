"""Nothing acknowledged is lost, nothing is counted twice, one chat never blocks another."""

import asyncio
import logging

from sqlmodel import select
from telegram import Update

from bot.core.logs import RedactSecrets
from bot.core.updates import ChatSerialProcessor
from storage.models import InboxUpdate, Report
from tests.conftest import registered

FULL_REPORT = ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
               "3 – Allvarligt", "Hoppa över", "Alla samordnare"]


async def report_count(bot) -> int:
    async with bot.services.db.session() as session:
        return len((await session.exec(select(Report))).all())


async def walk(person, labels):
    for label in labels:
        await person.click(label)


async def test_update_fetched_but_not_handled_survives_a_crash(bot, fake):
    anna = await registered(bot, 4001)
    await anna.send("/rapport")
    await walk(anna, FULL_REPORT)
    fake.click(4001, anna.last_with_buttons, "✅ Skicka")
    # The poller stores the update and then the process dies before handling it.
    updates = await bot.application.bot.get_updates(offset=bot.poller.offset, timeout=0)
    await bot.services.inbox.store([(u.update_id, u.to_dict()) for u in updates], bot.clock())
    await bot.application.bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert fake.pending_update_count() == 0  # Telegram has forgotten it
    await bot.restart()
    assert await report_count(bot) == 1
    assert "Mottagen" in anna.last["text"]


async def test_handled_but_not_marked_done_is_replayed_without_a_second_report(bot, fake):
    anna = await registered(bot, 4002)
    await anna.send("/rapport")
    await walk(anna, FULL_REPORT)

    async def crash_before_marking(update_id, now):
        return None  # the process died after the handler committed

    bot.services.inbox.mark_done = crash_before_marking
    await anna.click("✅ Skicka")
    await bot.restart()  # replays the "Skicka" update
    async with bot.services.db.session() as session:
        pending = (await session.exec(
            select(InboxUpdate).where(InboxUpdate.done_at.is_(None)))).all()
    assert pending == []
    assert await report_count(bot) == 1


async def test_replayed_command_does_not_restart_the_dialog(bot):
    anna = await registered(bot, 4003)

    original = bot.services.inbox.mark_done

    async def crash_before_marking(update_id, now):
        return None

    bot.services.inbox.mark_done = crash_before_marking
    await anna.send("/rapport")
    bot.services.inbox.mark_done = original
    await anna.click("Centrum")
    await bot.restart()
    # The replayed /rapport shows the existing draft; its step is still "plats".
    await anna.click("Stortorget")
    assert "Vad" in anna.last["text"]


async def test_5xx_and_timeouts_are_retried(bot, fake):
    anna = await registered(bot, 4004)
    fake.inject("sendMessage", "502", chat_id=4004)
    fake.inject("sendMessage", "timeout", chat_id=4004)
    reply = await anna.send("/hjalp")
    assert "hjälp" in reply["text"]


async def test_429_is_retried_after_the_wait(bot, fake):
    anna = await registered(bot, 4005)
    fake.inject("sendMessage", "429", chat_id=4005, retry_after=1)
    reply = await anna.send("/paus")
    assert "Pausat" in reply["text"]


async def test_one_slow_chat_does_not_delay_another(clock):
    class NullInbox:
        def __init__(self) -> None:
            self.done: list[int] = []

        async def mark_done(self, update_id, now):
            self.done.append(update_id)

    inbox = NullInbox()
    processor = ChatSerialProcessor(inbox, clock)
    slow_may_finish = asyncio.Event()
    order: list[str] = []

    def update(update_id: int, chat_id: int) -> Update:
        return Update.de_json({"update_id": update_id, "message": {
            "message_id": update_id, "date": 0, "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "X"}, "text": "hej"}}, None)

    async def slow():
        order.append("A1 start")
        await slow_may_finish.wait()
        order.append("A1 end")

    async def record(name):
        order.append(name)

    a1 = asyncio.create_task(processor.process_update(update(1, 10), slow()))
    a2 = asyncio.create_task(processor.process_update(update(2, 10), record("A2")))
    b1 = asyncio.create_task(processor.process_update(update(3, 20), record("B1")))
    await b1  # chat 20 finishes while chat 10 is still stuck
    assert order == ["A1 start", "B1"]
    slow_may_finish.set()
    await asyncio.gather(a1, a2)
    assert order == ["A1 start", "B1", "A1 end", "A2"]
    assert sorted(inbox.done) == [1, 2, 3]


def test_token_is_masked_in_log_records():
    token = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                               "HTTP Request: POST https://api.telegram.org/bot%s/getMe", (token,),
                               None)
    RedactSecrets([token]).filter(record)
    assert token not in record.getMessage() and "<BOT_TOKEN>" in record.getMessage()


async def test_handled_updates_are_pruned_after_two_days(bot, clock):
    anna = await registered(bot, 4006)
    await anna.send("/hjalp")
    clock.advance(days=3)
    await bot.restart()
    async with bot.services.db.session() as session:
        assert (await session.exec(select(InboxUpdate))).all() == []
    assert "hjälp" in (await anna.send("/hjalp"))["text"]
