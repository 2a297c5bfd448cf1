"""/niva on the dialog engine: typed reasons, reworded prompts, long histories, forged presses."""

from __future__ import annotations

from sqlmodel import col, select

from storage.levels import record_level
from storage.models import AreaLevel, Dialog, Member
from tests.conftest import registered
from tests.fake_telegram.entities import utf16_len
from tests.test_levels_bot import GROUP, coordinator_group

EMOJI_REASON = "🔥" * 390  # 390 characters, 780 UTF-16 units: within the 400 allowed


async def levels(bot) -> list[AreaLevel]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(AreaLevel).order_by(col(AreaLevel.id)))).all())


def reword(bot, monkeypatch, template: str, macro: str, first_line: str) -> None:
    """Render one macro with another first line, as if its wording had been changed."""
    services = bot.services
    original = services.render

    def render(name: str, which: str, /, **context: object) -> str:
        text = original(name, which, **context)
        if (name, which) == (template, macro):
            return first_line + "\n" + text.split("\n", 1)[-1]
        return text

    monkeypatch.setattr(services, "render", render)


async def test_a_reason_typed_as_an_ordinary_message_sets_the_level_in_private(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 3101, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva")
    await per.click("🟢 Vivalla")
    prompt = await per.click("🟡 Gult läge")
    assert "Skäl till Gult läge i Vivalla" in prompt["text"]

    answer = await per.send("Rykten om samling vid torget på fredag")  # no reply
    assert "Sparat: Vivalla har nu gult läge" in answer["text"]
    [level] = await levels(bot)
    assert (level.area_key, level.level, level.reason) == (
        "vivalla", "gult", "Rykten om samling vid torget på fredag")
    assert "Vivalla: Gult läge" in fake.last_bot_message(GROUP)["text"]
    # The next text is not a second reason.
    await per.send("Rykten om samling vid torget på fredag")
    assert len(await levels(bot)) == 1


async def test_a_too_short_reason_in_private_is_asked_again(bot):
    per = await registered(bot, 3102, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva vivalla")
    await per.click("🔴 Rött läge")
    assert "Skriv ett skäl" in (await per.send("ok"))["text"]
    assert await levels(bot) == []
    assert "Sparat: Vivalla har nu rött läge" in (await per.send("Bränder i natt"))["text"]


async def test_a_reworded_prompt_still_works_in_private_and_in_a_group(bot, fake, monkeypatch):
    await coordinator_group(bot, fake)
    per = await registered(bot, 3103, "Per", role="coordinator", org_key="kommunen")
    reword(bot, monkeypatch, "levels", "reason_prompt", "Varför ändras läget?")

    await per.send("/niva oxhagen")
    prompt = await per.click("🟡 Gult läge")
    assert prompt["text"].startswith("Varför ändras läget?")
    await per.send("Oro inför helgen")

    fake.send_text(3103, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    fake.click(3103, fake.last_bot_message(GROUP), "🔴 Rött läge", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    assert "Varför ändras läget?" in prompt["text"]
    fake.send_text(3103, "Bränder vid skolan", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    assert [(r.area_key, r.level) for r in await levels(bot)] == [
        ("oxhagen", "gult"), ("vivalla", "rött")]


async def test_in_a_group_only_a_reply_to_the_prompt_counts(bot, fake):
    await coordinator_group(bot, fake)
    await registered(bot, 3104, "Per", role="coordinator", org_key="kommunen")
    fake.send_text(3104, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    menu = fake.last_bot_message(GROUP)
    fake.click(3104, menu, "🟡 Gult läge", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    # A reply to another message of the bot is not the reason.
    fake.send_text(3104, "Oro inför helgen", chat_id=GROUP, reply_to=menu["message_id"])
    await bot.settle()
    assert await levels(bot) == []
    fake.send_text(3104, "Oro inför helgen", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    assert [r.level for r in await levels(bot)] == ["gult"]


async def test_a_long_history_full_of_emoji_is_paged_within_telegrams_limit(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 3105, "Per", role="coordinator", org_key="kommunen")
    cycle = ["gult", "rött", "orange", "grönt"]
    async with bot.services.db.session() as session:
        for number in range(12):
            await record_level(session, area_key="vivalla", level=cycle[number % 4],
                               reason=f"{number:02d} {EMOJI_REASON}", member_id=None,
                               now=bot.clock())
        await session.commit()

    seen: set[str] = set()
    page = await per.send("/niva historik vivalla")
    assert "Historik – Vivalla" in page["text"] and "11 🔥" in page["text"]  # newest first
    pages = 1
    while True:
        assert utf16_len(page["text"]) <= 4096
        seen |= {f"{n:02d}" for n in range(12) if f"{n:02d} 🔥" in page["text"]}
        if "Nästa ›" not in per.buttons(page):
            break
        page = await per.click("Nästa ›", page)
        pages += 1
    assert seen == {f"{n:02d}" for n in range(12)} and pages >= 3
    page = await per.click("‹ Föregående", page)
    assert "Historik – Vivalla" in page["text"]

    # The same in a group, and the menus that show the newest reason fit too.
    fake.send_text(3105, "/niva historik vivalla", chat_id=GROUP)
    await bot.settle()
    assert "Historik – Vivalla" in fake.last_bot_message(GROUP)["text"]
    menu = await per.send("/niva vivalla")
    assert "11 🔥" in menu["text"]
    history = await per.click("📜 Historik", menu)
    assert "Historik – Vivalla" in history["text"]
    assert "◀ Tillbaka" in per.buttons(history)
    menu = await per.click("◀ Tillbaka", history)
    assert "Välj nytt läge" in menu["text"]


def snapshot(fake, chat_id: int, messages: list[dict]) -> dict:
    ids = {m["message_id"] for m in messages}
    return {m["message_id"]: (m["text"], fake.buttons(m, chat_id=chat_id))
            for m in fake.bot_messages(chat_id) if m["message_id"] in ids}


OLD_AND_GARBAGE = [
    "lv:²:x", "lv:a:vivalla", "lv:l:vivalla:ROD", "lv:h:vivalla", "lv:m", "lv:hm", "lv:x",
    "ag:99999999999999999999:x", "ag:k:99999999999999999999", "ag:k:²", "ag:n:beslut",
    "ag:l", "d:²:a:vivalla", "d:99999999999999999999:l:ROD", "d:1:l:ROD:x", "d::a", "d:1",
]


async def test_old_prefixes_and_garbage_are_answered_and_change_nothing(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 3106, "Per", role="coordinator", org_key="kommunen")
    agenda = await per.send("/agenda")
    menu = await per.send("/niva vivalla")
    fake.send_text(3106, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    group_menu = fake.last_bot_message(GROUP)
    before = snapshot(fake, 3106, [agenda, menu]), snapshot(fake, GROUP, [group_menu])
    sent = len(fake.bot_messages(3106))
    for data in OLD_AND_GARBAGE:
        for target, chat in ((agenda, 3106), (menu, 3106), (group_menu, GROUP)):
            query = fake.click_data(3106, target, data, chat_id=chat)
            await bot.settle()
            assert fake.callback_answer(query["id"]) is not None, data
    assert (snapshot(fake, 3106, [agenda, menu]), snapshot(fake, GROUP, [group_menu])) == before
    assert len(fake.bot_messages(3106)) == sent and fake.bot_messages(GROUP)[-1] == group_menu
    assert await levels(bot) == []
    assert fake.unanswered_callback_queries() == []


async def dialog_of(bot, user_id: int, kind: str, chat_id: int) -> Dialog:
    async with bot.services.db.session() as session:
        member = (await session.exec(
            select(Member).where(Member.telegram_user_id == user_id))).one()
        return (await session.exec(
            select(Dialog).where(Dialog.member_id == member.id, Dialog.kind == kind,
                                 Dialog.chat_id == chat_id)
            .order_by(col(Dialog.id).desc()))).first()


async def test_a_press_only_ever_edits_the_message_of_its_own_dialog(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 3108, "Per", role="coordinator", org_key="kommunen")
    await registered(bot, 3109, "Lisa", role="coordinator", org_key="polisen")
    agenda = await per.send("/agenda")
    menu = await per.send("/niva vivalla")
    fake.send_text(3109, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    lisa_menu = fake.last_bot_message(GROUP)
    mine = await dialog_of(bot, 3108, "level", 3108)
    lisa_dialog = await dialog_of(bot, 3109, "level", GROUP)
    before = snapshot(fake, 3108, [agenda, menu]), snapshot(fake, GROUP, [lisa_menu])

    presses = [(agenda, 3108, f"d:{mine.id}:l:ROD"),  # mine, on my other dialog's message
               (agenda, 3108, f"d:{mine.id}:h"),
               (menu, 3108, f"d:{lisa_dialog.id}:l:ROD"),  # Lisa's, on my message
               (lisa_menu, GROUP, f"d:{lisa_dialog.id}:l:ROD"),  # Lisa's, on her message
               (lisa_menu, GROUP, f"d:{mine.id}:l:ROD")]  # mine, on her message
    presses += [(menu, 3108, f"d:{mine.id}:{garbage}") for garbage in (
        "l:²", "l:röd", "l:NOPE", "a:nowhere", "pg:99999999999999999999", "pg:²", "zz",
        "l", "h:vivalla:x")]
    for target, chat, data in presses:
        query = fake.click_data(3108, target, data, chat_id=chat)
        await bot.settle()
        assert fake.callback_answer(query["id"]) is not None, data
    assert (snapshot(fake, 3108, [agenda, menu]), snapshot(fake, GROUP, [lisa_menu])) == before
    assert await levels(bot) == []
    assert fake.unanswered_callback_queries() == []
    # The dialogs still work for their owners.
    prompt = await per.click("🔴 Rött läge", menu)
    assert "Skäl till Rött läge i Vivalla" in prompt["text"]


async def test_a_reason_typed_after_being_demoted_changes_nothing(bot, fake):
    per = await registered(bot, 3103, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva vivalla")
    await per.click("🔴 Rött läge")
    async with bot.services.db.session() as session:  # an admin demotes Per meanwhile
        member = (await session.exec(select(Member).where(Member.telegram_user_id == 3103))).one()
        member.role = "reporter"
        await session.commit()

    answer = await per.send("Bränder i natt vid skolan")
    assert "Sparat" not in answer["text"]
    assert "samordnare" in answer["text"]
    assert await levels(bot) == []
