"""The report dialog's details: going back, typing, privacy, restarts, stale buttons."""

from sqlmodel import select

from storage.models import Dialog, Report
from tests.conftest import registered

UP_TO_TEXT = ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
              "3 – Allvarligt"]


async def reports(bot) -> list[Report]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Report))).all())


async def walk(person, labels):
    for label in labels:
        await person.click(label)
    return person.last


async def test_restart_mid_dialog_continues_at_the_same_step(bot):
    anna = await registered(bot, 2001)
    await anna.send("/rapport")
    await walk(anna, ["Oxhagen", "Oxhagsskolan", "☐ Stenkastning"])
    await bot.restart()
    # The keyboard from before the restart still works and remembers the choices.
    after = await anna.click("Klar ✔")
    assert "Antal" in after["text"]
    await walk(anna, ["11–20", "1 tim sedan", "4 – Mycket allvarligt", "Hoppa över",
                      "Bara min organisation", "✅ Skicka"])
    [report] = await reports(bot)
    assert (report.area_key, report.place_key, report.sharing) == ("oxhagen", "oxh_skola", "egen")


async def test_stale_button_from_ended_dialog_gets_a_polite_answer(bot):
    anna = await registered(bot, 2002)
    await anna.send("/rapport")
    first = anna.last
    await anna.send("/rapport")  # a new dialog replaces the first
    bot.fake.click(2002, first, "Vivalla")
    await bot.settle()
    answers = [c for m, c in bot.fake.calls if m == "answerCallbackQuery"]
    assert "avslutad" in answers[-1]["text"]
    assert bot.fake.unanswered_callback_queries() == []


async def test_forged_callback_data_changes_nothing(bot):
    anna = await registered(bot, 2003)
    eve = await registered(bot, 2004, "Eve")
    await anna.send("/rapport")
    dialog = anna.last_with_buttons
    await eve.send("/rapport")
    eve_dialog = eve.last_with_buttons
    anna_draft = dialog["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1]
    # Eve replays Anna's draft id, and sends nonsense of every shape.
    for data in [f"r:{anna_draft}:a:vivalla", "r:999:a:vivalla", "r:x", "r:1:a:nowhere",
                 "garbage", "r:" + "9" * 60, "m:w:1", "l:1:vivalla", "inv:o:admin:kommunen"]:
        bot.fake.click_data(2004, eve_dialog, data)
    await bot.settle()
    async with bot.services.db.session() as session:
        drafts = (await session.exec(select(Dialog))).all()
    assert all(d.data.get("area") is None for d in drafts)
    assert await reports(bot) == []
    assert bot.fake.unanswered_callback_queries() == []


async def test_personnummer_is_refused_and_never_stored(bot):
    anna = await registered(bot, 2005)
    await anna.send("/rapport")
    await walk(anna, UP_TO_TEXT)
    reply = await anna.send("Killen med personnummer 811218-9876 kastade sten")
    assert "personnummer" in reply["text"].lower()
    # The reporter's message is gone from the chat and the draft has no text.
    deleted = [m for m in bot.fake.messages(2005, include_deleted=True) if m.get("deleted")]
    assert any("811218" in (m.get("text") or "") for m in deleted)
    async with bot.services.db.session() as session:
        drafts = (await session.exec(select(Dialog))).all()
    assert all("811218" not in str(d.data) for d in drafts)
    # Still at the text step: a good text now goes through.
    summary_step = await anna.send("Tre bilar brann vid skolan, ring mig på 070-123 45 67")
    assert "telefonnummer" in summary_step["text"].lower()
    await walk(anna, ["Alla samordnare", "✅ Skicka"])
    [report] = await reports(bot)
    assert "070" not in report.text and "Tre bilar brann" in report.text


async def test_typed_place_typed_time_and_shared_location(bot, clock):
    anna = await registered(bot, 2006)
    await anna.send("/rapport")
    await walk(anna, ["Varberga", "Annan plats (skriv)"])
    what = await anna.send("Lekplatsen bakom Varbergaskolan")
    assert "Vad" in what["text"]
    await walk(anna, ["☐ Bilbrand", "Klar ✔", "1–2", "Ange tid (skriv)"])
    bad = await anna.send("kvart i tio")
    assert "till exempel" in bad["text"]  # examples, not "TT:MM" (issue 9)
    await anna.send("20:15")  # clock is 21:00 local
    await walk(anna, ["1 – Lindrigt", "Hoppa över", "Alla samordnare"])
    await walk(anna, ["✏ Ändra", "Plats"])
    # The position lies nearer Oxhagen's places: which area is asked (issue 9).
    await anna.share_location(59.2793, 15.2470)
    summary = await anna.click("Varberga")
    assert "delad position" in summary["text"]
    await anna.click("✅ Skicka")
    [report] = await reports(bot)
    assert report.place_name is None and report.lat == 59.2793
    assert report.occurred_at.astimezone(bot.config.tz).strftime("%H:%M") == "20:15"


async def test_back_and_cancel(bot):
    anna = await registered(bot, 2007)
    await anna.send("/rapport")
    await anna.click("Brickebacken")
    back = await anna.click("◀ Tillbaka")
    assert "Område" in back["text"]
    await anna.click("Centrum")
    cancelled = await anna.click("✖ Avbryt")
    assert "Inget sparades" in cancelled["text"]
    assert await reports(bot) == []


async def test_send_with_missing_step_goes_to_that_step(bot):
    anna = await registered(bot, 2008)
    await anna.send("/rapport")
    dialog = anna.last_with_buttons
    draft_id = dialog["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1]
    bot.fake.click_data(2008, dialog, f"r:{draft_id}:ok")
    await bot.settle()
    assert await reports(bot) == []


async def test_calm_shift_in_two_taps(bot):
    anna = await registered(bot, 2009)
    await anna.send("/lugnt")
    done = await anna.click("Baronbackarna")
    assert "Mottagen" in done["text"] and "Lugnt i Baronbackarna" in done["text"]
    [report] = await reports(bot)
    assert report.area_key == "baronbackarna"


async def test_edit_and_withdraw_within_window(bot, clock):
    anna = await registered(bot, 2010)
    await anna.send("/rapport")
    await walk(anna, [*UP_TO_TEXT, "Hoppa över", "Alla samordnare", "✅ Skicka"])
    await anna.send("/mina_rapporter")
    await anna.click("Ändra R-2026-000001")  # straight to the edit menu (issue 9)
    await walk(anna, ["Område", "Oxhagen", "Oxhagens centrum", "✅ Skicka"])
    [report] = await reports(bot)
    assert (report.area_key, report.reference) == ("oxhagen", "R-2026-000001")

    await anna.send("/mina_rapporter")
    await walk(anna, ["Ta tillbaka R-2026-000001", "Ja, ta tillbaka"])
    [report] = await reports(bot)
    assert report.withdrawn_at is not None

    await anna.send("/lugnt")
    await anna.click("Vivalla")
    listing = await anna.send("/mina_rapporter")
    clock.advance(minutes=31)
    assert "Ändra R-2026-000002" not in anna.buttons(listing)  # calm: withdraw only
    await anna.click("Ta tillbaka R-2026-000002", listing)
    answers = [c for m, c in bot.fake.calls if m == "answerCallbackQuery"]
    assert "30 minuter" in answers[-1]["text"]
    assert [r.withdrawn_at is None for r in await reports(bot)] == [False, True]


async def test_typed_text_is_escaped_for_telegram_html(bot):
    anna = await registered(bot, 2011)
    await anna.send("/rapport")
    await walk(anna, ["Centrum", "Annan plats (skriv)"])
    await anna.send("<b>Torget & kiosken</b>")
    await walk(anna, ["☐ Skadegörelse", "Klar ✔", "1–2", "Nu", "1 – Lindrigt"])
    summary_step = await anna.send("Fönster krossat <script> & glas på marken")
    await anna.click("Alla samordnare")
    summary = anna.last
    assert "<b>Torget & kiosken</b>" in summary["text"]  # shown literally, accepted by Telegram
    assert "<script> & glas" in summary["text"]
    assert summary_step is not None
