"""The outbox and the delivery engine: once per recipient, whatever Telegram or a crash does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.outbound import delivery
from bot.outbound.posts import Image, Post
from storage import outbox
from storage.members import group_by_chat, member_by_user
from storage.models import Broadcast, Delivery, Group, Member
from tests.conftest import make_admin, registered
from tests.fake_telegram.ratelimit import SendWindows
from tests.utils.harness import BotUnderTest

ADMIN = 7000
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 64
AT = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # Friday 19.00 in Stockholm


def texts_in(fake, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.bot_messages(chat_id)]


def count(fake, chat_id: int, needle: str) -> int:
    return sum(needle in t for t in texts_in(fake, chat_id))


async def people(bot, *user_ids: int) -> list[tuple[int, int, None]]:
    """Registered reporters as broadcast recipients (chat_id, member_id, None)."""
    found = []
    for uid in user_ids:
        await registered(bot, uid, f"P{uid}")
    async with bot.services.db.session() as session:
        for uid in user_ids:
            member = await member_by_user(session, uid)
            found.append((uid, member.id, None))
    return found


async def group(bot, fake, chat_id: int, kind_word: str = "utsattning") -> tuple:
    await make_admin(bot, ADMIN)
    fake.user(ADMIN, "Admin")
    fake.create_group(chat_id, f"Grupp {chat_id}")
    fake.add_bot_to_group(chat_id, ADMIN)
    await bot.settle()
    fake.send_text(ADMIN, f"/registrera_grupp {kind_word}".strip(), chat_id=chat_id)
    await bot.settle()
    async with bot.services.db.session() as session:
        row = await group_by_chat(session, chat_id)
    return (chat_id, None, row.id)


async def deliveries(bot, kind: str = "briefing") -> list[Delivery]:
    async with bot.services.db.session() as session:
        query = (select(Delivery).join(Broadcast, Broadcast.id == Delivery.broadcast_id)
                 .where(Broadcast.kind == kind).order_by(Delivery.id))
        return list((await session.exec(query)).all())


async def send(bot, post: Post, recipients, period: str = "2026-11-27", kind: str = "briefing"):
    return await delivery.broadcast(bot.services, bot.application.bot, kind=kind, period=period,
                                    scheduled_for=AT, post=post, recipients=recipients)


POST = Post(texts=["<b>Utsättning</b> inför helgen"])


async def test_each_recipient_gets_the_post_once_even_when_sent_again(bot, fake):
    await make_admin(bot, ADMIN)
    recipients = await people(bot, 7101, 7102) + [await group(bot, fake, -7201)]
    row = await send(bot, POST, recipients)
    assert row is not None and row.status == outbox.DONE
    assert await send(bot, POST, recipients) is None  # the period is claimed
    for chat_id, *_ in recipients:
        assert count(fake, chat_id, "Utsättning") == 1
    rows = await deliveries(bot)
    assert {d.status for d in rows} == {outbox.SENT}
    assert all(len(d.message_ids) == 1 and d.sent_at is not None for d in rows)


async def test_texts_and_pictures_are_sent_in_order_with_html_and_caption(bot, fake):
    [anna] = await people(bot, 7103)
    post = Post(texts=["<b>Del 1</b>", "Del 2"],
                images=[Image("matris.png", PNG, "<i>Nivåer per vecka</i>")])
    await send(bot, post, [anna])
    sent = fake.bot_messages(7103)[-3:]
    assert [m.get("text") for m in sent[:2]] == ["Del 1", "Del 2"]
    assert sent[2]["photo"] and sent[2]["caption"] == "Nivåer per vecka"
    [row] = await deliveries(bot)
    assert row.message_ids == [m["message_id"] for m in sent]


async def test_a_skipped_post_is_recorded_and_sends_nothing(bot, fake, caplog):
    recipients = [await group(bot, fake, -7202, "")]
    before = len(fake.bot_messages(-7202))
    with caplog.at_level("INFO", logger="bot.outbound.delivery"):
        row = await send(bot, Post(texts=[], skip_reason="inget nytt"), recipients,
                         kind="lagesbild")
    assert row.status == outbox.SKIPPED
    assert len(fake.bot_messages(-7202)) == before
    assert await deliveries(bot, "lagesbild") == []
    assert "no empty summaries" in caplog.text


async def test_429_is_waited_out_and_the_message_arrives_once(bot, fake):
    recipients = await people(bot, 7104, 7105)
    fake.inject("sendMessage", "429", chat_id=7104, retry_after=0, times=2)
    await send(bot, POST, recipients)
    assert count(fake, 7104, "Utsättning") == 1
    assert count(fake, 7105, "Utsättning") == 1


async def test_429_beyond_the_limiters_retries_stays_pending_and_is_retried(bot, fake):
    recipients = await people(bot, 7106, 7107)
    fake.inject("sendMessage", "429", chat_id=7106, retry_after=0, times=10)
    row = await send(bot, POST, recipients)
    assert row.status == outbox.SENDING  # not finished: one delivery waits for a retry
    stuck = next(d for d in await deliveries(bot) if d.chat_id == 7106)
    assert stuck.status == outbox.PENDING and stuck.attempts == 1
    assert "Too Many Requests" in stuck.last_error
    assert count(fake, 7106, "Utsättning") == 0
    fake.clear_faults()
    assert await delivery.resume_unfinished(bot.services, bot.application.bot) == 1
    assert count(fake, 7106, "Utsättning") == 1 and count(fake, 7107, "Utsättning") == 1
    async with bot.services.db.session() as session:
        assert (await session.get(Broadcast, row.id)).status == outbox.DONE


async def test_a_failure_that_never_ends_is_given_up_after_max_attempts(bot, fake):
    [anna] = await people(bot, 7108)
    fake.inject("sendMessage", "500", chat_id=7108, times=1000)
    await send(bot, POST, [anna])
    for _ in range(outbox.MAX_ATTEMPTS):
        await delivery.resume_unfinished(bot.services, bot.application.bot)
    [row] = await deliveries(bot)
    assert row.status == outbox.FAILED and row.attempts == outbox.MAX_ATTEMPTS
    async with bot.services.db.session() as session:
        assert await outbox.unfinished(session) == []
    fake.clear_faults()


async def test_5xx_and_timeouts_are_retried_with_back_off(bot, fake):
    [anna] = await people(bot, 7109)
    fake.inject("sendMessage", "502", chat_id=7109)
    fake.inject("sendMessage", "timeout", chat_id=7109)
    await send(bot, POST, [anna])
    assert count(fake, 7109, "Utsättning") == 1


async def test_403_marks_the_member_inactive_and_tells_the_admins(bot, fake):
    await make_admin(bot, ADMIN)
    fake.user(ADMIN, "Admin")
    fake.send_text(ADMIN, "/start")  # the admin's private chat with the bot
    await bot.settle()
    recipients = await people(bot, 7110, 7111)
    fake.block_bot(7110)
    await send(bot, POST, recipients)
    rows = {d.chat_id: d for d in await deliveries(bot)}
    assert rows[7110].status == outbox.BLOCKED and rows[7111].status == outbox.SENT
    async with bot.services.db.session() as session:
        assert (await member_by_user(session, 7110)).active is False
        assert (await member_by_user(session, 7111)).active is True
    notice = fake.last_bot_message(ADMIN)["text"]
    assert "kunde inte nå 1 mottagare av fredagens utsättning" in notice
    assert "P7110 (Nattvandrarna" in notice


async def test_403_from_a_group_marks_the_group_inactive(bot, fake):
    await make_admin(bot, ADMIN)
    target = await group(bot, fake, -7203)
    fake.inject("sendMessage", "403", chat_id=-7203)
    await send(bot, POST, [target])
    async with bot.services.db.session() as session:
        assert (await group_by_chat(session, -7203)).active is False
    [row] = await deliveries(bot)
    assert row.status == outbox.BLOCKED


async def test_chat_migrated_stores_the_new_id_and_resends_there(bot, fake):
    await make_admin(bot, ADMIN)
    target = await group(bot, fake, -7204)
    new_id = -1001234567204
    fake.inject("sendMessage", "chat_migrated", chat_id=-7204, migrate_to=new_id)
    post = Post(texts=["Del 1", "Del 2"])
    await send(bot, post, [target])
    assert texts_in(fake, new_id)[-2:] == ["Del 1", "Del 2"]
    async with bot.services.db.session() as session:
        moved = await session.get(Group, target[2])
    assert moved.chat_id == new_id and moved.active
    [row] = await deliveries(bot)
    assert row.status == outbox.SENT and row.chat_id == new_id and len(row.message_ids) == 2


async def test_a_restart_during_a_broadcast_resumes_without_a_second_copy(bot, fake, clock,
                                                                         monkeypatch):
    recipients = await people(bot, 7301, 7302, 7303, 7304)
    post = Post(texts=["Utsättning del 1", "Utsättning del 2"])
    real_send, calls = delivery._send_part, []
    process: asyncio.Task | None = None

    async def dies_on_the_fourth_message(bot_, chat_id, part, markup=None):
        calls.append(chat_id)
        if len(calls) == 4:  # part 2 to the second member (its part 1 is recorded)
            process.cancel()  # the process dies: every task in it stops where it is
            await asyncio.Event().wait()
        return await real_send(bot_, chat_id, part, markup)

    monkeypatch.setattr(delivery, "WORKERS", 1)
    monkeypatch.setattr(delivery, "_send_part", dies_on_the_fourth_message)
    process = asyncio.create_task(send(bot, post, recipients))
    with pytest.raises(asyncio.CancelledError):
        await process
    monkeypatch.setattr(delivery, "_send_part", real_send)

    states = {d.chat_id: (d.status, len(d.message_ids)) for d in await deliveries(bot)}
    assert states[7301] == (outbox.SENT, 2)
    assert states[7302] == (outbox.SENDING, 1)  # in flight when the process died
    assert {states[7303][0], states[7304][0]} == {outbox.PENDING}

    await bot.restart()
    await delivery.resume_unfinished(bot.services, bot.application.bot)
    assert count(fake, 7303, "del 1") == 1 and count(fake, 7304, "del 2") == 1
    assert count(fake, 7302, "del 2") == 0  # its lease is respected for a while
    clock.advance(minutes=11)
    await delivery.resume_unfinished(bot.services, bot.application.bot)
    for chat_id, *_ in recipients:
        assert count(fake, chat_id, "del 1") == 1, chat_id
        assert count(fake, chat_id, "del 2") == 1, chat_id
    async with bot.services.db.session() as session:
        assert await outbox.unfinished(session) == []


async def test_two_processes_resuming_one_broadcast_send_each_message_once(bot, fake, clock,
                                                                          database_url, config):
    recipients = await people(bot, 7311, 7312, 7313, 7314, 7315, 7316)
    async with bot.services.db.session() as session:
        row = await outbox.claim(session, kind="briefing", period="2026-11-27",
                                 scheduled_for=AT, payload=POST.to_payload(), now=clock())
        await outbox.add_deliveries(session, row.id, recipients)
        await session.commit()
    other = await BotUnderTest(fake, database_url, config, clock).start()
    try:
        await asyncio.gather(
            delivery.resume_unfinished(bot.services, bot.application.bot),
            delivery.resume_unfinished(other.services, other.application.bot),
        )
    finally:
        await other.stop()
    for chat_id, *_ in recipients:
        assert count(fake, chat_id, "Utsättning") == 1


async def test_send_once_sends_one_message_per_key_and_chat(bot, fake):
    await people(bot, 7401, 7402)
    services, tg = bot.services, bot.application.bot
    first = await delivery.send_once(services, tg, kind="level", key="area_level:12",
                                     chat_id=7401, text="Vivalla: <b>gult</b> läge")
    again = await delivery.send_once(services, tg, kind="level", key="area_level:12",
                                     chat_id=7401, text="Vivalla: <b>gult</b> läge")
    other = await delivery.send_once(services, tg, kind="level", key="area_level:12",
                                     chat_id=7402, text="Vivalla: <b>gult</b> läge")
    assert first == (7401, fake.last_bot_message(7401)["message_id"]) and again is None
    assert other == (7402, fake.last_bot_message(7402)["message_id"])
    assert count(fake, 7401, "gult") == 1 and count(fake, 7402, "gult") == 1


async def test_send_once_retries_a_transient_failure_on_the_next_call(bot, fake):
    await people(bot, 7403)
    services, tg = bot.services, bot.application.bot
    fake.inject("sendMessage", "500", chat_id=7403, times=4)  # more than the limiter retries
    assert await delivery.send_once(services, tg, kind="alert", key="9", chat_id=7403,
                                    text="Larm") is None
    assert await delivery.send_once(services, tg, kind="alert", key="9", chat_id=7403,
                                    text="Larm") is not None
    assert count(fake, 7403, "Larm") == 1


async def test_send_once_after_a_crash_mid_send_waits_for_the_lease(bot, fake, clock):
    await people(bot, 7406)
    async with bot.services.db.session() as session:  # a process claimed it, then died
        row = await outbox.get_or_create(session, kind="alert", period="11", now=clock())
        assert await outbox.claim_delivery(session, broadcast_id=row.id, chat_id=7406,
                                           now=clock()) is not None
    args = {"kind": "alert", "key": "11", "chat_id": 7406, "text": "Larm"}
    assert await delivery.send_once(bot.services, bot.application.bot, **args) is None
    clock.advance(minutes=11)
    assert await delivery.send_once(bot.services, bot.application.bot, **args) is not None
    assert await delivery.send_once(bot.services, bot.application.bot, **args) is None
    assert count(fake, 7406, "Larm") == 1


async def test_send_once_to_a_blocked_member_tells_the_admins(bot, fake):
    await make_admin(bot, ADMIN)
    fake.user(ADMIN, "Admin")
    fake.send_text(ADMIN, "/start")
    await bot.settle()
    await people(bot, 7404)
    fake.block_bot(7404)
    assert await delivery.send_once(bot.services, bot.application.bot, kind="level",
                                    key="3", chat_id=7404, text="Gult") is None
    async with bot.services.db.session() as session:
        member = (await session.exec(select(Member).where(Member.telegram_user_id == 7404))
                  ).one()
    assert member.active is False
    assert "kunde inte nå 1 mottagare av nivåändringen" in fake.last_bot_message(ADMIN)["text"]


async def test_send_once_follows_a_group_to_its_supergroup(bot, fake):
    target = await group(bot, fake, -7205, "")
    fake.inject("sendMessage", "chat_migrated", chat_id=-7205, migrate_to=-1001234567205)
    sent = await delivery.send_once(bot.services, bot.application.bot, kind="alert", key="5",
                                    chat_id=-7205, text="Larm")
    assert sent == (-1001234567205, fake.last_bot_message(-1001234567205)["message_id"])
    async with bot.services.db.session() as session:
        assert (await session.get(Group, target[2])).chat_id == -1001234567205


async def test_messages_to_one_chat_are_spaced(bot, monkeypatch):
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(delivery, "_sleeper", lambda _bot: record)
    await people(bot, 7405)
    await send(bot, Post(texts=["a", "b", "c"]), [(7405, None, None)])
    # Nothing really waits here, so the second slot is two gaps after the first send.
    assert [round(w) for w in waits] == [1, 2]


async def test_a_normal_broadcast_hits_no_rate_limit(bot, fake):
    recipients = await people(bot, *range(7501, 7531))
    groups = [await group(bot, fake, -7600 - i) for i in range(3)]
    # The registrations above were sent at test speed; measure the broadcast on its own.
    fake._send_windows = SendWindows()
    fake.rate_limit_hits.clear()
    await send(bot, Post(texts=["Utsättning 1", "Utsättning 2"]), recipients + groups)
    assert fake.rate_limit_hits == []
    assert all(count(fake, c, "Utsättning") == 2 for c, *_ in recipients + groups)


def test_claim_keys_are_checked():
    with pytest.raises(ValueError):
        outbox._check_key("x" * 25, "p")
    with pytest.raises(ValueError):
        outbox._check_key("kind", "p" * 33)
    assert timedelta(minutes=5) < outbox.LEASE
