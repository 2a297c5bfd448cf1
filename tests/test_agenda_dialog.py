"""/agenda on the dialog engine: typed items, edits, long agendas, forged presses."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from storage.models import AgendaItem
from tests.conftest import registered
from tests.fake_telegram.entities import utf16_len
from tests.test_levels_bot import GROUP, coordinator_group
from tests.test_niva_dialog import reword

EMOJI_TEXT = "🔥" * 290  # 290 characters (300 allowed), 580 UTF-16 units


async def items(bot) -> list[AgendaItem]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(AgendaItem).order_by(col(AgendaItem.id)))).all())


async def test_an_item_typed_as_an_ordinary_message_is_flagged_in_private(bot):
    per = await registered(bot, 6301, "Per", role="coordinator", org_key="kommunen")
    await per.send("/agenda")
    prompt = await per.click("➕ Samordning")
    assert "Punkt 6 – Behov av ytterligare samordning på kort sikt" in prompt["text"]
    saved = await per.send("Samordna kvällsronden med skolan")  # no reply
    assert "Anmält till punkt 6" in saved["text"]
    [item] = await items(bot)
    assert (item.kind, item.text) == ("samordning", "Samordna kvällsronden med skolan")
    # The overview is shown again: the next text is no second item.
    assert "✔ Klar #1" in per.buttons(saved)
    await per.send("Samordna kvällsronden med skolan igen")
    assert len(await items(bot)) == 1


async def test_a_reworded_prompt_still_works(bot, fake, monkeypatch):
    await coordinator_group(bot, fake)
    per = await registered(bot, 6302, "Per", role="coordinator", org_key="kommunen")
    reword(bot, monkeypatch, "agenda", "prompt", "Vad ska mötet ta upp?")
    await per.send("/agenda")
    prompt = await per.click("➕ Informera andra")
    assert prompt["text"].startswith("Vad ska mötet ta upp?")
    await per.send("Skolan behöver veta om helgen")

    fake.send_text(6302, "/agenda", chat_id=GROUP)
    await bot.settle()
    fake.click(6302, fake.last_bot_message(GROUP), "➕ Nytt beslut/förstärkning", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    assert "Vad ska mötet ta upp?" in prompt["text"]
    fake.send_text(6302, "Fler fältare i helgen", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    assert [(i.kind, i.text) for i in await items(bot)] == [
        ("informera", "Skolan behöver veta om helgen"), ("beslut", "Fler fältare i helgen")]


async def test_editing_the_text_of_an_item_adds_no_second_item(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 6303, "Per", role="coordinator", org_key="kommunen")
    await per.send("/agenda")
    await per.click("➕ Samordning")
    await per.send("Samordna med skolan")
    await per.edit("Samordna med skolan och fritidsgården")

    fake.send_text(6303, "/agenda", chat_id=GROUP)
    await bot.settle()
    fake.click(6303, fake.last_bot_message(GROUP), "➕ Informera andra", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    reply = fake.send_text(6303, "Informera bussbolaget", chat_id=GROUP,
                           reply_to=prompt["message_id"])
    await bot.settle()
    fake.edit_text(6303, reply, "Informera bussbolaget och taxi", chat_id=GROUP)
    await bot.settle()
    assert [(i.kind, i.text) for i in await items(bot)] == [
        ("samordning", "Samordna med skolan"), ("informera", "Informera bussbolaget")]


async def test_a_long_agenda_full_of_emoji_is_paged_and_resolvable_from_any_page(bot, fake, clock):
    await coordinator_group(bot, fake)
    per = await registered(bot, 6304, "Per", role="coordinator", org_key="kommunen")
    async with bot.services.db.session() as session:
        for number in range(12):
            session.add(AgendaItem(kind=("beslut", "samordning", "informera")[number % 3],
                                   text=f"{number:02d} {EMOJI_TEXT}",
                                   created_at=clock() - timedelta(minutes=60 - number)))
        await session.commit()

    page = await per.send("/agenda")
    shown: dict[int, int] = {}  # item number → page
    pages = 0
    while True:
        assert utf16_len(page["text"]) <= 4096
        for number in range(12):
            if f"{number:02d} 🔥" in page["text"]:
                assert f"✔ Klar #{number + 1}" in per.buttons(page)
                shown.setdefault(number, pages)
        pages += 1
        if "Nästa ›" not in per.buttons(page):
            break
        page = await per.click("Nästa ›", page)
    assert sorted(shown) == list(range(12)) and pages >= 2

    # Resolve an item on the last page: the page stays, the item is gone.
    last = max(shown, key=lambda n: shown[n])
    page = await per.click(f"✔ Klar #{last + 1}", page)
    assert f"Punkt #{last + 1} är markerad som klar." in page["text"]
    assert f"{last:02d} 🔥" not in page["text"] and utf16_len(page["text"]) <= 4096
    [resolved] = [i for i in await items(bot) if i.resolved_at is not None]
    assert resolved.id == last + 1

    # And one on the first page, from a new /agenda; in a group as well.
    page = await per.send("/agenda")
    page = await per.click("✔ Klar #1", page)
    assert "Punkt #1 är markerad som klar." in page["text"]
    fake.send_text(6304, "/agenda", chat_id=GROUP)
    await bot.settle()
    overview = fake.last_bot_message(GROUP)
    assert utf16_len(overview["text"]) <= 4096 and "Nästa ›" in fake.buttons(overview, GROUP)
    fake.click(6304, overview, "✔ Klar #2", chat_id=GROUP)
    await bot.settle()
    assert sum(i.resolved_at is not None for i in await items(bot)) == 3
    # The digest still lists what is open.
    assert len([i for i in await items(bot) if i.resolved_at is None]) == 9


async def test_a_long_agenda_of_short_items_keeps_each_page_within_telegrams_button_limit(
        bot, fake, clock):
    per = await registered(bot, 6305, "Per", role="coordinator", org_key="kommunen")
    async with bot.services.db.session() as session:
        for number in range(130):
            session.add(AgendaItem(kind="beslut", text=f"x{number}",
                                   created_at=clock() - timedelta(minutes=200 - number)))
        await session.commit()
    page = await per.send("/agenda")
    klar: list[str] = []
    while True:
        buttons = per.buttons(page)
        assert len(buttons) <= 100 and utf16_len(page["text"]) <= 4096
        klar += [b for b in buttons if b.startswith("✔ Klar")]
        if "Nästa ›" not in buttons:
            break
        page = await per.click("Nästa ›", page)
    assert sorted(klar) == sorted(f"✔ Klar #{n}" for n in range(1, 131))
    page = await per.click("✔ Klar #130", page)
    assert "Punkt #130 är markerad som klar." in page["text"]
    assert "x129 " not in page["text"] and "Nästa ›" not in per.buttons(page)
