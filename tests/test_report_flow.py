"""A nattvandrare's first evening: invited, registered, reports, gets a receipt."""

from sqlmodel import select

from storage.models import InboxUpdate, Member, Report, ReportCategory
from tests.conftest import invite_token, registered


async def count(bot, model) -> int:
    async with bot.services.db.session() as session:
        return len((await session.exec(select(model))).all())


async def test_invite_register_report_receipt_and_my_reports(bot):
    anna = bot.person(1001, "Anna")
    token = await invite_token(bot)
    welcome = await anna.send(f"/start {token}")
    assert "Välkommen, Anna" in welcome["text"]
    assert "/rapport" in welcome["text"]

    step = await anna.send("/rapport")
    assert "Område" in step["text"]
    await anna.click("Vivalla")
    await anna.click("Vivalla centrum (torget)")
    await anna.click("☐ Samling av ungdomar")
    assert "☑ Samling av ungdomar" in anna.buttons()
    await anna.click("Klar ✔")
    await anna.click("6–10")
    await anna.click("30 min sedan")
    await anna.click("2 – Märkbart")
    await anna.click("Hoppa över")
    summary = await anna.click("Alla samordnare")
    assert "Sammanfattning" in summary["text"]
    assert "Vivalla centrum (torget)" in summary["text"]
    receipt = await anna.click("✅ Skicka")
    assert "Mottagen – R-2026-000001" in receipt["text"]

    async with bot.services.db.session() as session:
        report = (await session.exec(select(Report))).one()
        categories = (await session.exec(select(ReportCategory.category_key))).all()
    assert (report.area_key, report.place_key, report.people, report.severity) == (
        "vivalla", "viv_centrum", "6-10", 2)
    assert report.sharing == "formedlad"
    assert (bot.clock() - report.occurred_at).total_seconds() == 30 * 60
    assert categories == ["samling"]

    mine = await anna.send("/mina_rapporter")
    assert "R-2026-000001" in mine["text"]
    assert bot.fake.unanswered_callback_queries() == []


async def test_unknown_user_is_refused_and_nothing_is_stored(bot):
    stranger = bot.person(666, "Okänd")
    reply = await stranger.send("/rapport")
    assert "Be din samordnare om en inbjudan" in reply["text"]
    await stranger.send("Det brinner vid Vivalla torg, ring 070-123 45 67")
    assert await count(bot, Member) == 0
    assert await count(bot, Report) == 0
    async with bot.services.db.session() as session:
        rows = (await session.exec(select(InboxUpdate.update_id))).all()
        erased = (await session.exec(
            select(InboxUpdate.update_id).where(InboxUpdate.payload.is_(None)))).all()
    assert rows and sorted(erased) == sorted(rows)  # SQL NULL, not the JSON text 'null'


async def test_double_send_gives_one_report(bot):
    anna = await registered(bot, 1002)
    await anna.send("/rapport")
    for label in ["Centrum", "Stortorget", "☐ Skadegörelse", "Klar ✔", "1–2", "Nu",
                  "1 – Lindrigt", "Hoppa över", "Alla samordnare"]:
        await anna.click(label)
    summary = anna.last_with_buttons
    # Two presses of the same "Skicka" before the bot answers either.
    bot.fake.click(1002, summary, "✅ Skicka")
    bot.fake.click(1002, summary, "✅ Skicka")
    await bot.settle()
    assert await count(bot, Report) == 1
    assert bot.fake.unanswered_callback_queries() == []
