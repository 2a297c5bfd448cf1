"""Update ids are not a clock.

Bot API, Update.update_id: "if there are no new updates for at least a week, then
identifier of the next update will be chosen randomly instead of sequentially". The
next id may therefore be lower than one still stored in the inbox. The inbox must then
confirm the newest batch (not the highest id), replay in arrival order (not id order),
and recognise repeats by the set of stored ids (never by comparing ids).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from storage.db import Database
from storage.inbox import Inbox
from storage.models import InboxUpdate
from tests.conftest import registered

T0 = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)
QUIET_WEEK = timedelta(days=8)


def payload(update_id: int) -> dict:
    return {"update_id": update_id, "message": {"message_id": update_id, "date": 0,
                                                "chat": {"id": 1, "type": "private"},
                                                "text": f"nr {update_id}"}}


@pytest.fixture
async def inbox(database_url):
    db = Database(database_url)
    yield Inbox(db)
    await db.dispose()


async def store(inbox: Inbox, ids: list[int], now: datetime) -> list[int]:
    return await inbox.store([(i, payload(i)) for i in ids], now)


async def handle(inbox: Inbox, ids: list[int], now: datetime) -> None:
    for update_id in ids:
        await inbox.mark_done(update_id, now)


def next_ids_from(fake, update_id: int) -> None:
    """Telegram after a quiet week: the next update gets an id chosen at random."""
    with fake._cond:
        fake._next_update_id = update_id


# --- the inbox --------------------------------------------------------------------------


async def test_the_offset_confirms_the_newest_batch_not_the_highest_id(inbox):
    await store(inbox, [900000, 900001, 900002], T0)
    await handle(inbox, [900000, 900001, 900002], T0)
    await store(inbox, [17, 18], T0 + QUIET_WEEK)
    # 900003 would confirm (and so drop) every update Telegram numbers 19, 20, …
    assert await inbox.next_offset() == 19


async def test_pending_updates_are_replayed_in_arrival_order(inbox):
    await store(inbox, [900000, 900001], T0)
    await handle(inbox, [900000], T0)
    await store(inbox, [17, 18], T0 + QUIET_WEEK)
    await store(inbox, [19], T0 + QUIET_WEEK + timedelta(seconds=1))
    assert [uid for uid, _ in await inbox.pending()] == [900001, 17, 18, 19]
    assert [p["message"]["text"] for _, p in await inbox.pending()] == [
        "nr 900001", "nr 17", "nr 18", "nr 19"]


async def test_a_repeat_is_known_by_its_id_not_by_being_lower(inbox):
    await store(inbox, [900000, 900001], T0)
    # Lower than everything stored, yet new.
    assert await store(inbox, [17, 18], T0 + QUIET_WEEK) == [17, 18]
    # Telegram resends a batch that was stored but not confirmed, plus one more.
    assert await store(inbox, [17, 18, 19], T0 + QUIET_WEEK) == [19]
    assert await store(inbox, [900001], T0 + QUIET_WEEK) == []


async def test_no_offset_once_the_newest_batch_is_older_than_trusted(inbox):
    await store(inbox, [900000], T0)
    assert await inbox.next_offset(received_since=T0) == 900001
    # Older than that, the ids may have restarted lower: ask Telegram for what it has.
    assert await inbox.next_offset(received_since=T0 + timedelta(seconds=1)) is None


async def test_an_empty_inbox_has_no_offset(inbox):
    assert await inbox.next_offset() is None


# --- the bot ----------------------------------------------------------------------------


def help_replies(person) -> int:
    return sum(text.startswith("Lägesbild – hjälp") for text in person.texts())


async def test_a_restart_after_a_quiet_week_does_not_confirm_away_new_updates(bot, fake,
                                                                               clock):
    next_ids_from(fake, 900000)
    anna = await registered(bot, 4101)
    await anna.send("/hjalp")
    # One more /hjalp is stored, then the process dies before handling it.
    fake.send_text(4101, "/hjalp")
    updates = await bot.application.bot.get_updates(offset=bot.poller.offset, timeout=0)
    await bot.services.inbox.store([(u.update_id, u.to_dict()) for u in updates], bot.clock())
    await bot.application.bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    # Down for more than a week; meanwhile Anna writes again and gets a random, low id.
    clock.advance(days=8)
    next_ids_from(fake, 17)
    fake.send_text(4101, "/hjalp")
    await bot.restart()
    await bot.settle()
    assert help_replies(anna) == 3


async def test_a_running_bot_gets_the_updates_after_a_quiet_week(bot, fake, clock):
    next_ids_from(fake, 900000)
    anna = await registered(bot, 4102)
    await anna.send("/hjalp")
    clock.advance(days=8)
    next_ids_from(fake, 17)
    await anna.send("/hjalp")
    assert help_replies(anna) == 2


async def test_a_new_update_with_the_id_of_an_old_one_is_not_taken_for_a_repeat(bot, fake,
                                                                                  clock):
    anna = await registered(bot, 4103)
    await anna.send("/hjalp")
    async with bot.services.db.session() as session:
        old_id = max((await session.exec(select(InboxUpdate.update_id))).all())
    clock.advance(days=8)
    next_ids_from(fake, old_id)  # the random pick may well hit an id we still remember
    await anna.send("/hjalp")
    assert help_replies(anna) == 2


async def test_handled_updates_are_pruned_while_running_at_most_hourly(bot, fake, clock):
    anna = await registered(bot, 4104)
    await anna.send("/hjalp")
    prunes: list[datetime] = []
    original = bot.services.inbox.prune

    async def counting_prune(done_before):
        prunes.append(done_before)
        return await original(done_before)

    bot.services.inbox.prune = counting_prune
    clock.advance(days=3)
    await anna.send("/hjalp")  # no restart: the poll loop prunes
    assert len(prunes) == 1
    async with bot.services.db.session() as session:
        rows = (await session.exec(select(InboxUpdate))).all()
    assert rows and all(row.received_at == clock() for row in rows)

    clock.advance(minutes=30)
    await anna.send("/hjalp")
    assert len(prunes) == 1  # not on every poll
    clock.advance(minutes=31)
    await anna.send("/hjalp")
    assert len(prunes) == 2
