"""The daily lägesbild post, the late marker, the payload form, and /agenda in chat."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.core.services import Services
from bot.outbound.posts import (
    TEXT_LIMIT,
    Image,
    Post,
    compose_daily,
    compose_digest,
    digest_inputs,
    digest_pages,
    mark_late,
)
from storage.db import Database
from storage.levels import record_level
from storage.members import add_member
from storage.models import AgendaItem
from tests.conftest import registered
from tests.test_digest import SECRET_TEXT, add_report
from tests.test_lagesbild_bot import GROUP, coordinator_group
from tests.test_levels_bot import menu_dialog_id
from tests.utils.harness import FakeClock

# Thursday 26 November 2026, 08:00 in Örebro.
MORNING = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
PERSONNUMMER = "19811218-9876"  # valid date and check digit


@pytest.fixture
async def services(database_url, config):
    db = Database(database_url)
    yield Services(config=config, db=db, clock=FakeClock(MORNING))
    await db.dispose()


async def _reporter(session, user_id: int = 7400):
    return await add_member(session, telegram_user_id=user_id, first_name="Kalle",
                            role="reporter", org_key="nattvandrarna",
                            now=MORNING - timedelta(days=30))


# ---------------------------------------------------------------- compose_daily

async def test_daily_is_skipped_when_nothing_came_in_and_all_is_green(services):
    post = await compose_daily(services, MORNING)
    assert post.texts == []
    assert post.skip_reason == ("inga nya förmedlade rapporter senaste dygnet och alla "
                                "områden har grönt läge")


async def test_daily_is_skipped_for_old_reports_and_egna_reports_only(services):
    async with services.db.session() as session:
        member = await _reporter(session)
        # Happened and received 25 hours ago: yesterday's post had it.
        await add_report(session, member, area="vivalla", at=MORNING - timedelta(hours=25),
                         categories=["skadegorelse"], place_key="viv_skola")
        # Egen: not part of what a coordinator group sees.
        await add_report(session, member, area="vivalla", at=MORNING - timedelta(hours=2),
                         categories=["skadegorelse"], place_key="viv_skola", sharing="egen")
        await session.commit()
    assert (await compose_daily(services, MORNING)).skip_reason is not None


async def test_daily_is_sent_after_a_new_report_even_a_calm_one(services):
    async with services.db.session() as session:
        member = await _reporter(session)
        await add_report(session, member, area="oxhagen", at=MORNING - timedelta(hours=10),
                         categories=["lugnt"], place_key="oxh_skola", severity=1, people="0")
        await add_report(session, member, area="vivalla", at=MORNING - timedelta(hours=9),
                         categories=["skadegorelse"], place_key="viv_skola", severity=3,
                         text=SECRET_TEXT)
        await session.commit()
    post = await compose_daily(services, MORNING)
    assert post.skip_reason is None and post.images == []
    whole = "\n".join(post.texts)
    assert whole.startswith("📋 <b>Samlad lägesbild – Örebro kommun</b>")
    assert "Vivallaskolan – Skadegörelse · allvar 3" in whole
    assert "1 lugnt pass" in whole
    # A group post: no free text, no names.
    assert SECRET_TEXT not in whole and "Kalle" not in whole
    assert all(len(text) <= TEXT_LIMIT for text in post.texts)
    # The same report, a day later, no longer counts as news.
    later = await compose_daily(services, MORNING + timedelta(days=1))
    assert later.skip_reason is not None


async def test_daily_is_sent_while_an_area_is_not_green(services):
    async with services.db.session() as session:
        await record_level(session, area_key="varberga", level="orange", reason="Efterarbete",
                           member_id=None, now=MORNING - timedelta(days=3))
        await session.commit()
    post = await compose_daily(services, MORNING)
    assert post.skip_reason is None
    assert "🟠 <b>Varberga</b> – Orange läge" in post.texts[0]
    # Composed as of its moment: before the change, Varberga was grönt and all was quiet.
    assert (await compose_daily(services, MORNING - timedelta(days=4))).skip_reason


# ---------------------------------------------------------------- late marker and payload

async def test_mark_late_prefixes_the_first_text_with_the_scheduled_time(services):
    friday = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    post = Post(texts=["Första", "Andra"])
    late = mark_late(services, post, friday)
    assert late.texts == ["⏰ <b>Försenat utskick</b> – planerat till fredag 27 november "
                          "kl. 19:00.\n\nFörsta", "Andra"]
    assert post.texts == ["Första", "Andra"]  # the original is unchanged
    assert mark_late(services, Post(texts=[], skip_reason="x"), friday).texts == []


async def test_a_full_digest_page_still_fits_after_the_late_marker(services):
    async with services.db.session() as session:
        for i in range(40):
            session.add(AgendaItem(kind="beslut", text="Behov av stöd " * 21,
                                   created_at=MORNING - timedelta(hours=i + 1)))
        await session.commit()
    digest, _, _ = await digest_inputs(services, MORNING)
    late = mark_late(services, Post(texts=digest_pages(services, digest)), MORNING)
    assert len(late.texts) > 1
    assert all(len(text) <= 4096 for text in late.texts)


async def test_payload_round_trip_keeps_texts_and_images(services):
    post = await compose_digest(services, MORNING)
    payload = post.to_payload()
    json.dumps(payload)  # storable in Broadcast.payload
    assert Post.from_payload(json.loads(json.dumps(payload))) == post
    assert Post.from_payload(Post(texts=[], skip_reason="tyst").to_payload()) == \
        Post(texts=[], skip_reason="tyst")
    assert isinstance(post.images[0], Image)


# ---------------------------------------------------------------- /agenda in chat

async def _items(bot) -> list[AgendaItem]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(AgendaItem).order_by(AgendaItem.id))).all())


async def test_agenda_in_the_coordinator_group_flag_list_and_resolve(bot, fake, clock):
    await coordinator_group(bot, fake)
    karin = await registered(bot, 6101, "Karin", role="coordinator", org_key="polisen")
    anna = await registered(bot, 6102, "Anna")

    fake.send_text(6101, "/agenda", chat_id=GROUP)
    await bot.settle()
    overview = fake.last_bot_message(GROUP)
    assert "Agenda för torsdagsmötet – punkt 5–7" in overview["text"]
    assert overview["text"].count("Inget anmält.") == 3
    assert fake.buttons(overview, chat_id=GROUP) == [
        "➕ Nytt beslut/förstärkning", "➕ Samordning", "➕ Informera andra", "🔄 Uppdatera"]

    # A reporter may neither list nor press.
    fake.send_text(6102, "/agenda", chat_id=GROUP)
    await bot.settle()
    assert "sköts av samordnarna" in fake.last_bot_message(GROUP)["text"]
    query = fake.click(6102, overview, "➕ Samordning", chat_id=GROUP)
    await bot.settle()
    assert "någon annans dialog" in fake.callback_answer(query["id"])["text"]

    fake.click(6101, overview, "➕ Nytt beslut/förstärkning", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    assert "📌 Punkt 5 – Behov av nya beslut eller förstärkning" in prompt["text"]
    [sent] = [params for name, params in fake.calls
              if name == "sendMessage" and "📌 Punkt" in str(params.get("text", ""))]
    markup = sent["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["force_reply"] is True and markup["selective"] is True
    assert await _items(bot) == []  # nothing stored before the text

    await bot.restart()  # the pending choice lives in the dialog row
    clock.advance(minutes=3)
    fake.send_text(6102, "Jag vill också", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    assert "någon annans dialog" in fake.last_bot_message(GROUP)["text"]
    fake.send_text(6101, "Förstärkning med  fältare i Vivalla i helgen", chat_id=GROUP,
                   reply_to=prompt["message_id"])
    await bot.settle()
    saved = fake.last_bot_message(GROUP)["text"]
    assert "Anmält till punkt 5" in saved and "Förstärkning med fältare i Vivalla" in saved
    [item] = await _items(bot)
    assert (item.kind, item.text, item.resolved_at) == (
        "beslut", "Förstärkning med fältare i Vivalla i helgen", None)
    assert item.created_at == clock()

    # The same reply again (a redelivered update) is the same item.
    fake.send_text(6101, "Förstärkning med fältare i Vivalla i helgen", chat_id=GROUP,
                   reply_to=prompt["message_id"])
    await bot.settle()
    assert len(await _items(bot)) == 1

    fake.send_text(6101, "/agenda", chat_id=GROUP)
    await bot.settle()
    listing = fake.last_bot_message(GROUP)
    assert f"#{item.id} Förstärkning med fältare i Vivalla i helgen" in listing["text"]
    assert "(Polisen, lokalpolisområde Örebro, " in listing["text"]
    assert "Karin" not in listing["text"]
    assert listing["text"].count("Inget anmält.") == 2
    clock.advance(hours=1)
    fake.click(6101, listing, f"✔ Klar #{item.id}", chat_id=GROUP)
    await bot.settle()
    [item] = await _items(bot)
    assert item.resolved_at == clock()
    after = fake.last_bot_message(GROUP)
    assert f"Punkt #{item.id} är markerad som klar." in after["text"]
    assert after["text"].count("Inget anmält.") == 3
    # Pressing Klar again (an old keyboard) changes nothing.
    dialog_id = menu_dialog_id(after)
    fake.click_data(6101, after, f"d:{dialog_id}:k:{item.id}", chat_id=GROUP)
    await bot.settle()
    [again] = await _items(bot)
    assert again.resolved_at == item.resolved_at
    # Forged data gets a polite answer.
    query = fake.click_data(6101, after, f"d:{dialog_id}:n:bogus", chat_id=GROUP)
    await bot.settle()
    assert "gäller inte längre" in fake.callback_answer(query["id"])["text"]
    assert fake.unanswered_callback_queries() == []
    assert karin and anna


async def test_agenda_in_private_refuses_personnummer_masks_phone_and_reaches_the_digest(
        bot, fake, config):
    per = await registered(bot, 6201, "Per", role="coordinator", org_key="kommunen")
    await per.send("/agenda")
    await per.click("➕ Samordning")
    prompt = per.last
    assert prompt["text"].startswith("📌 Punkt 6 – Behov av ytterligare samordning på kort sikt")

    fake.send_text(6201, f"Ring om {PERSONNUMMER}", reply_to=prompt["message_id"])
    await bot.settle()
    assert "personnummer" in per.last["text"]
    assert await _items(bot) == []
    texts = [m.get("text", "") for m in fake.messages(6201)]
    assert not any(PERSONNUMMER in t for t in texts)  # the message was deleted

    fake.send_text(6201, "Samordna med skolan, ring 070-123 45 67",
                   reply_to=prompt["message_id"])
    await bot.settle()
    assert "telefonnummer" in per.last["text"]
    [item] = await _items(bot)
    assert (item.kind, item.text) == ("samordning",
                                      "Samordna med skolan, ring [telefonnummer borttaget]")

    # Plain text after the item (the overview is shown again) is no second item.
    before = len(await _items(bot))
    await per.send("Hej")
    assert len(await _items(bot)) == before

    post = await compose_digest(bot.services, bot.clock() + timedelta(minutes=1))
    whole = "\n".join(post.texts)
    six = whole[whole.index("<b>6. "):whole.index("<b>7. ")]
    assert "Samordna med skolan, ring [telefonnummer borttaget]" in six
    assert "(Örebro kommun, " in six
