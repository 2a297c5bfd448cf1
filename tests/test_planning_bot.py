"""Events, insatser, uppföljning and återkoppling through the fake Telegram API.

The test clock starts on Friday 20 November 2026, 21:00 in Örebro (20:00 UTC).
"""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from bot.dialogs.paging import MESSAGE_LIMIT, utf16_len
from bot.features.planning import followup
from messages import labels
from storage.models import Dialog, Event, Insats, Member, Report
from tests.conftest import registered

THANKS = "Tack för dina rapporter"
FULL_REPORT_TAIL = ["☐ Skadegörelse", "Klar ✔", "3–5", "Nu", "3 – Allvarligt", "Hoppa över",
                    "Alla samordnare", "✅ Skicka"]


@pytest.fixture
async def planner(bot):
    return bot


async def rows(bot, model) -> list:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(model))).all())


async def dialog(bot, kind: str, user_id: int | None = None) -> Dialog:
    """The newest dialog of a kind (of one person's, by Telegram id)."""
    members = {m.id: m.telegram_user_id for m in await rows(bot, Member)}
    return [d for d in await rows(bot, Dialog) if d.kind == kind
            and (user_id is None or members[d.member_id] == user_id)][-1]


async def set_role(bot, user_id: int, role: str) -> None:
    async with bot.services.db.session() as session:
        await session.exec(update(Member).where(Member.telegram_user_id == user_id)
                           .values(role=role))
        await session.commit()


async def ask_for_followups(bot) -> int:
    return await followup.ask_for_followups(bot.services, bot.application.bot,
                                            bot.application.bot_data["dialogs"])


async def test_typed_text_goes_to_the_open_insats_dialog_not_to_a_report(planner):
    """An older report waiting for typed text does not take what the insats asks for."""
    bot = planner
    karin = await coordinator(bot)
    await karin.send("/rapport")
    await karin.click("Centrum")
    await karin.click("Annan plats (skriv)")  # the report waits for a typed place
    assert "Rapport 2/8" in karin.last_with_buttons["text"]
    await karin.send("/insats ny")
    await karin.click("Centrum")
    await karin.click("Stortorget")
    step = await karin.send("Ordningsvakter vid torget")
    assert "Ny insats 4/6" in step["text"] and "Ordningsvakter vid torget" in step["text"]
    assert (await dialog(bot, "insats")).data["what"] == "Ordningsvakter vid torget"
    report = await dialog(bot, "report")
    assert report.status == "open" and report.data.get("place_name") is None
    assert await rows(bot, Report) == []


async def report_from(person, area: str, place: str) -> None:
    await person.send("/rapport")
    for label in [area, place, *FULL_REPORT_TAIL]:
        await person.click(label)
    assert "Mottagen" in person.last["text"]


def thanks(person) -> list[str]:
    return [t for t in person.texts() if THANKS in t]


async def coordinator(bot, user_id: int = 2001, org_key: str = "kommunen"):
    return await registered(bot, user_id, "Karin", role="coordinator", org_key=org_key)


# ---------------------------------------------------------------- /handelse


async def test_event_is_registered_with_buttons_and_listed(planner):
    bot = planner
    karin = await coordinator(bot)
    overview = await karin.send("/handelse")
    assert "Kommande händelser" in overview["text"] and "Inga registrerade" in overview["text"]
    # Known risk days of the coming months: holidays, the config's risk dates, school lov.
    for name in ("Julafton", "Nyårsafton", "Jullov", "Sportlov"):
        assert name in overview["text"]

    step = await karin.click("➕ Ny händelse")
    assert "Område" in step["text"] and "Hela kommunen" in karin.buttons()
    await karin.click("Vivalla")
    step = await karin.send("Fotbollsmatch på planen, info 070-123 45 67")
    assert "telefonnummer" in step["text"]  # masked, and the coordinator is told
    assert karin.buttons()[:2] == ["I dag", "I morgon"]
    await karin.click("I morgon")
    assert "19:00" in karin.buttons()
    confirm = await karin.click("19:00")
    assert "lör 21/11 19:00" in confirm["text"]
    saved = await karin.click("✅ Spara")
    assert "Händelsen är sparad" in saved["text"]

    [event] = await rows(bot, Event)
    assert event.area_key == "vivalla"
    assert event.title == "Fotbollsmatch på planen, info [telefonnummer borttaget]"
    assert event.starts_at == datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    listing = await karin.send("/handelse")
    assert "lör 21/11 19:00 – Fotbollsmatch på planen" in listing["text"]
    assert "(Vivalla)" in listing["text"]
    assert bot.fake.unanswered_callback_queries() == []


async def test_event_typed_date_for_the_whole_kommun_and_bad_input(planner):
    bot = planner
    karin = await coordinator(bot)
    await karin.send("/handelse ny")
    await karin.click("Hela kommunen")
    refused = await karin.send("Demonstration, anmäld av 19811218-9876")
    assert "personnummer" in refused["text"]
    await karin.send("Demonstration på Stortorget")
    await karin.click("Skriv datum och tid")
    for bad in ("32/13 25", "2025-01-01 10:00", "någon gång"):
        reply = await karin.send(bad)
        assert "Skriv" in reply["text"] or "finns inte" in reply["text"] \
            or "redan varit" in reply["text"]
    confirm = await karin.send("31/12 22")
    assert "tors 31/12 22:00" in confirm["text"] and "Hela kommunen" in confirm["text"]
    await karin.click("✅ Spara")
    [event] = await rows(bot, Event)
    assert event.area_key is None and event.title == "Demonstration på Stortorget"
    assert event.starts_at == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)


async def test_reporters_are_refused(planner):
    bot = planner
    anna = await registered(bot, 1001)
    for command in ("/handelse", "/insats", "/handelse ny", "/insats ny"):
        reply = await anna.send(command)
        assert "till för samordnare" in reply["text"]
    # The coordinators' buttons of a reporter who was a coordinator a moment ago.
    await set_role(bot, 1001, "coordinator")
    await anna.send("/insats")
    insats_list = await dialog(bot, "insats_status", 1001)
    await anna.send("/handelse")
    events_list = await dialog(bot, "events", 1001)
    await set_role(bot, 1001, "reporter")
    for data in (f"d:{insats_list.id}:n", f"d:{events_list.id}:n",
                 f"d:{insats_list.id}:s:1.running", f"d:{insats_list.id}:pg:1"):
        message = anna.last if data.startswith(f"d:{events_list.id}:") \
            else bot.fake.bot_messages(1001)[-2]
        query = bot.fake.click_data(1001, message, data)
        await bot.settle()
        assert "till för samordnare" in bot.fake.callback_answer(query["id"])["text"]
    # …or a button of a coordinator's dialog: not theirs.
    karin = await coordinator(bot)
    await karin.send("/insats ny")
    registration = await dialog(bot, "insats")
    query = bot.fake.click_data(1001, anna.last, f"d:{registration.id}:a:vivalla")
    await bot.settle()
    assert "någon annans" in bot.fake.callback_answer(query["id"])["text"]
    assert (await dialog(bot, "insats")).data["area"] is None
    assert await rows(bot, Event) == [] and await rows(bot, Insats) == []


# ---------------------------------------------------------------- /insats and återkoppling


async def test_insats_at_a_place_thanks_that_place_s_reporters_and_nobody_else(planner):
    bot, clock = planner, planner.clock
    old = await registered(bot, 1006, "Fredrik")
    await report_from(old, "Vivalla", "Vivallaskolan")  # will be 15 days old
    clock.advance(days=15)  # Saturday 5 December, 21:00

    anna = await registered(bot, 1001, "Anna")
    bertil = await registered(bot, 1002, "Bertil", org_key="securitas")
    other_place = await registered(bot, 1003, "Cecilia")
    opted_out = await registered(bot, 1004, "David")
    withdrew = await registered(bot, 1005, "Erik")
    paused = await registered(bot, 1007, "Gustav")
    await report_from(anna, "Vivalla", "Vivallaskolan")
    await report_from(bertil, "Vivalla", "Vivallaskolan")
    await report_from(bertil, "Vivalla", "Vivallaskolan")  # two reports, one thank-you
    await report_from(other_place, "Vivalla", "Vivalla centrum (torget)")
    await report_from(opted_out, "Vivalla", "Vivallaskolan")
    assert "avstängd" in (await opted_out.send("/aterkoppling av"))["text"]
    await report_from(withdrew, "Vivalla", "Vivallaskolan")
    await withdrew.send("/mina_rapporter")
    await withdrew.click(next(b for b in withdrew.buttons() if b.startswith("Ta tillbaka")))
    await withdrew.click("Ja, ta tillbaka")
    await report_from(paused, "Vivalla", "Vivallaskolan")
    await paused.send("/paus")

    karin = await coordinator(bot)
    await report_from(karin, "Vivalla", "Vivallaskolan")  # the registrar is not thanked
    overview = await karin.send("/insats")
    assert "Inga just nu" in overview["text"]
    step = await karin.click("➕ Ny insats")
    assert "Ny insats 1/6" in step["text"]
    await karin.click("Vivalla")
    assert {"Vivallaskolan", "Hela området", "Annan plats (skriv)"} <= set(karin.buttons())
    await karin.click("Vivallaskolan")
    await karin.send("Extra nattvandring och fältare vid skolan")
    await karin.click("Nattvandrarna Örebro")
    assert karin.buttons()[:3] == ["Ikväll 18–23", "I helgen fre 18 – sön 23", "Kommande vecka"]
    confirm = await karin.click("Ikväll 18–23")
    assert "lör 5/12 18:00–23:00" in confirm["text"] and "14 dagarna" in confirm["text"]
    saved = await karin.click("✅ Spara")
    assert "Insats #1 är registrerad" in saved["text"]

    [insats] = await rows(bot, Insats)
    assert (insats.area_key, insats.place_key, insats.org_key, insats.status) == (
        "vivalla", "viv_skola", "nattvandrarna", "planned")
    assert insats.starts_at == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert insats.ends_at == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)

    for reporter in (anna, bertil):
        [text] = thanks(reporter)
        assert "Extra nattvandring och fältare vid skolan" in text
        assert "Vivallaskolan (Vivalla)" in text and "Nattvandrarna Örebro" in text
        assert "/aterkoppling av" in text
        # Nothing about anyone else: no names, no references, no categories.
        for leak in ("Anna", "Bertil", "Karin", "R-2026", "Skadegörelse"):
            assert leak not in text
    for nobody in (old, other_place, opted_out, withdrew, paused, karin):
        assert thanks(nobody) == []

    listing = await karin.send("/insats")
    assert "#1" in listing["text"] and "Pågår" in listing["text"]  # 18:00 has passed
    # Nattvandrarna's insats: Karin (kommunen) sees it, only they and admins change it.
    assert karin.buttons() == ["➕ Ny insats"]


async def test_insats_with_typed_place_and_period_and_status_changes(planner):
    bot = planner
    anna = await registered(bot, 1001)
    await report_from(anna, "Oxhagen", "Oxhagens centrum")
    karin = await coordinator(bot)
    await karin.send("/insats ny")
    await karin.click("Oxhagen")
    await karin.click("Annan plats (skriv)")
    await karin.send("Gångtunneln   under Rudbecksgatan")
    await karin.send("Ny belysning")
    await karin.click("Örebro kommun")
    await karin.click("Skriv period")
    refused = await karin.send("i går 18 – 20")
    assert "förstår inte" in refused["text"] or "Skriv" in refused["text"]
    ended = await karin.send("i dag 10-12")
    assert "redan tagit slut" in ended["text"]
    confirm = await karin.send("i morgon 18-23")
    assert "lör 21/11 18:00–23:00" in confirm["text"]
    assert "Gångtunneln under Rudbecksgatan" in confirm["text"]
    await karin.click("✅ Spara")
    [insats] = await rows(bot, Insats)
    assert insats.place_key is None and insats.place_name == "Gångtunneln under Rudbecksgatan"
    assert thanks(anna) == []  # no known place: nobody to thank

    await karin.send("/insats")
    assert karin.buttons() == ["▶ Starta #1", "✖ Ställ in #1", "➕ Ny insats"]
    await karin.click("▶ Starta #1")
    assert karin.buttons() == ["✔ Klar #1", "✖ Ställ in #1", "➕ Ny insats"]
    asked = await karin.click("✖ Ställ in #1")
    assert "Ställa in insats #1" in asked["text"]
    await karin.click("Nej, behåll")
    await karin.click("✖ Ställ in #1")
    after = await karin.click("Ja, ställ in")
    assert "Inga just nu" in after["text"]
    [insats] = await rows(bot, Insats)
    assert insats.status == "cancelled"
    # A stale or forged button cannot bring it back.
    listing = await dialog(bot, "insats_status")
    query = bot.fake.click_data(2001, karin.last, f"d:{listing.id}:s:1.running")
    await bot.settle()
    assert "redan inställd" in bot.fake.callback_answer(query["id"])["text"]
    assert (await rows(bot, Insats))[0].status == "cancelled"


async def test_dialog_survives_a_restart_and_text_goes_to_the_newest_dialog(planner):
    bot = planner
    karin = await coordinator(bot)
    await karin.send("/insats ny")
    await karin.click("Centrum")
    await karin.click("Stortorget")
    await bot.restart()
    step = await karin.send("Ordningsvakter vid torget")
    assert "Ny insats 4/6" in step["text"] and "Ordningsvakter vid torget" in step["text"]

    # A report started afterwards takes the next typed text: the newest dialog wins.
    await karin.send("/rapport")
    await karin.click("Centrum")
    await karin.click("Annan plats (skriv)")
    step = await karin.send("Lekplatsen vid ån")
    assert "Rapport 3/8" in step["text"]
    drafts = {d.kind: d for d in await rows(bot, Dialog) if d.status == "open"}
    assert drafts["report"].data["place_name"] == "Lekplatsen vid ån"
    assert drafts["insats"].data["what"] == "Ordningsvakter vid torget"
    assert drafts["insats"].data["place_key"] == "cen_stortorget"


# ---------------------------------------------------------------- uppföljning


async def test_uppfoljning_is_asked_once_after_the_end_and_stored(planner):
    bot, clock = planner, planner.clock
    karin = await coordinator(bot)
    await karin.send("/insats ny")
    for label in ["Varberga", "Varbergaskolan"]:
        await karin.click(label)
    await karin.send("Fältgruppen på plats vid skolan")
    await karin.click("Fältgruppen Örebro kommun")
    await karin.click("Ikväll 18–23")
    await karin.click("✅ Spara")

    assert await ask_for_followups(bot) == 0  # still running
    clock.advance(hours=2, minutes=1)  # 23:01 local
    assert await ask_for_followups(bot) == 1
    question = karin.last
    assert "Uppföljning av insats #1" in question["text"]
    assert karin.buttons(question) == ["Bättre", "Oförändrat", "Sämre"]
    assert await ask_for_followups(bot) == 0  # asked once
    [insats] = await rows(bot, Insats)
    assert insats.status == "done" and insats.followup_asked_at == clock()

    # A reporter cannot answer for the coordinator.
    anna = await registered(bot, 1001)
    asked = await dialog(bot, "followup")
    assert asked.message_id == question["message_id"]  # bound to what the outbox sent
    query = bot.fake.click_data(1001, anna.last, f"d:{asked.id}:e:worse")
    await bot.settle()
    assert "någon annans" in bot.fake.callback_answer(query["id"])["text"]
    assert (await rows(bot, Insats))[0].followup_effect is None

    prompt = await karin.click("Bättre", question)
    assert "Effekt: Bättre – sparad" in prompt["text"] and karin.buttons() == ["Hoppa över"]
    saved = await karin.send("Lugnare kvällar, kontakt rektor@skolan.se")
    assert "Uppföljningen av insats #1 är sparad" in saved["text"]
    [insats] = await rows(bot, Insats)
    assert insats.followup_effect == "better"
    assert insats.followup_comment == "Lugnare kvällar, kontakt [e-post borttagen]"
    assert insats.followup_by_member_id == insats.created_by_member_id
    assert insats.followed_up_at == clock()


async def test_uppfoljning_skip_comment_and_blocked_coordinator(planner):
    bot, clock = planner, planner.clock
    karin = await coordinator(bot)
    per = await coordinator(bot, 2002, org_key="polisen")
    for person in (karin, per):
        await person.send("/insats ny")
        for label in ["Centrum", "Järntorget"]:
            await person.click(label)
        await person.send("Polisen patrullerar")
        await person.click("Polisen, lokalpolisområde Örebro")
        await person.click("Ikväll 18–23")
        await person.click("✅ Spara")
    bot.fake.block_bot(2002)
    clock.advance(hours=3)
    assert await ask_for_followups(bot) == 1
    members = {m.telegram_user_id: m for m in await rows(bot, Member)}
    assert members[2002].active is False and members[2001].active is True

    await karin.click("Sämre")
    done = await karin.click("Hoppa över")
    assert "sparad" in done["text"] and "Sämre" in done["text"]
    insatser = {i.created_by_member_id: i for i in await rows(bot, Insats)}
    assert insatser[members[2001].id].followup_effect == "worse"
    assert insatser[members[2001].id].followup_comment is None


async def test_aterkoppling_to_a_reporter_who_blocked_the_bot_marks_them_inactive(planner):
    bot = planner
    anna = await registered(bot, 1001)
    await report_from(anna, "Brickebacken", "Brickebackens skola")
    bot.fake.block_bot(1001)
    karin = await coordinator(bot)
    await karin.send("/insats ny")
    for label in ["Brickebacken", "Brickebackens skola"]:
        await karin.click(label)
    await karin.send("Trygghetsvandring")
    await karin.click("ÖBO")
    await karin.click("Kommande vecka")
    await karin.click("✅ Spara")
    members = {m.telegram_user_id: m for m in await rows(bot, Member)}
    assert members[1001].active is False and members[2001].active is True
    assert thanks(anna) == []


async def test_aterkoppling_can_be_turned_off_and_on(planner):
    bot = planner
    anna = await registered(bot, 1001)
    assert "är på" in (await anna.send("/aterkoppling"))["text"]
    await anna.send("/aterkoppling av")
    assert [m.feedback_opt_out for m in await rows(bot, Member)] == [True]
    assert "avstängd" in (await anna.send("/aterkoppling"))["text"]
    await anna.send("/aterkoppling pa")
    assert [m.feedback_opt_out for m in await rows(bot, Member)] == [False]


async def test_followups_are_scheduled_every_ten_minutes_with_grace(bot):
    # build_application schedules it once.
    [job] = bot.application.job_queue.get_jobs_by_name("uppfoljning")
    assert job.job.trigger.interval.total_seconds() == 600
    assert job.job.misfire_grace_time == 300


async def test_reports_are_untouched_by_planning(planner):
    """A reporter's typed text still reaches the report dialog through the route."""
    bot = planner
    anna = await registered(bot, 1001)
    await anna.send("/rapport")
    await anna.click("Centrum")
    await anna.click("Annan plats (skriv)")
    step = await anna.send("Parkeringen bakom biblioteket")
    assert "Rapport 3/8" in step["text"]
    nothing = await anna.send("hej")
    assert "knapp" in nothing["text"].lower() or "rapport" in nothing["text"].lower()
    assert await rows(bot, Report) == []


async def test_long_lists_fit_one_telegram_message(planner):
    bot = planner
    karin = await coordinator(bot, org_key="raddningstjansten")  # the insatser are theirs
    now = bot.clock()
    async with bot.services.db.session() as session:
        for n in range(15):
            session.add(Event(area_key="brickebacken", starts_at=now + timedelta(days=1, hours=n),
                              title="Å" * 200, created_by_member_id=1, created_at=now))
            session.add(Insats(area_key="brickebacken", place_name="Ö" * 80, what="ä" * 300,
                               org_key="raddningstjansten", starts_at=now,
                               ends_at=now + timedelta(days=50), created_by_member_id=1,
                               created_at=now))
        await session.commit()
    # Paged (finding 7): every page fits, the rest is one "Nästa" away.
    events = await karin.send("/handelse")
    assert "Sida 1 av" in events["text"] and utf16_len(events["text"]) <= MESSAGE_LIMIT
    assert labels.NEXT_PAGE in karin.buttons()
    insatser = await karin.send("/insats")
    assert "Sida 1 av" in insatser["text"] and utf16_len(insatser["text"]) <= MESSAGE_LIMIT
    shown = insatser["text"].count("Nerikes Brandkår")
    assert 0 < shown < 15
    assert len(karin.buttons()) == shown * 2 + 1 + 1  # status, "Ny insats", "Nästa"


async def test_typed_text_from_a_demoted_coordinator_changes_nothing(planner):
    bot = planner
    karin = await coordinator(bot)
    await karin.send("/handelse ny")
    await karin.click("Hela kommunen")
    before = (await dialog(bot, "event")).step
    await set_role(bot, karin.user_id, "reporter")

    answer = await karin.send("Demonstration på Stortorget")
    assert "samordnare" in answer["text"]
    after = await dialog(bot, "event")
    assert after.step == before and "title" not in (after.data or {})
