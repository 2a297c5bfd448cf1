"""/lagesbild through the fake Telegram API: groups, coordinators, reporters, egen/förmedlad."""

from datetime import timedelta

from est.report_draft import ReportDraft as DraftData
from storage.levels import record_level
from storage.members import member_by_user
from storage.models import Event, Insats
from storage.reports import open_draft, submit_draft
from tests.conftest import file_report, make_admin, registered

GROUP = -4101
ADMIN = 5000


async def coordinator_group(bot, fake, chat_id: int = GROUP) -> None:
    await make_admin(bot, ADMIN)
    fake.user(ADMIN, "Admin")
    fake.create_group(chat_id, "Samordnare EST")
    fake.add_bot_to_group(chat_id, ADMIN)
    await bot.settle()
    fake.send_text(ADMIN, "/registrera_grupp", chat_id=chat_id)
    await bot.settle()
    assert "registrerad" in fake.last_bot_message(chat_id)["text"]


async def report(person, what="☐ Skadegörelse", **choices):
    await file_report(person, category=what, **choices)


async def in_group(bot, fake, user_id: int, command: str, chat_id: int = GROUP) -> list[str]:
    before = len(fake.bot_messages(chat_id))
    fake.send_text(user_id, command, chat_id=chat_id)
    await bot.settle()
    return [m["text"] for m in fake.bot_messages(chat_id)[before:]]


async def private(bot, person, command: str) -> list[str]:
    before = len(bot.fake.bot_messages(person.user_id))
    await person.send(command)
    return [m["text"] for m in bot.fake.bot_messages(person.user_id)[before:]]


async def member_id(bot, user_id: int) -> int:
    async with bot.services.db.session() as session:
        return (await member_by_user(session, user_id)).id


async def test_group_picture_shows_level_reason_and_counts_from_the_dialog(bot, fake, clock):
    await coordinator_group(bot, fake)
    karin = await registered(bot, 5001, "Karin", role="coordinator", org_key="polisen")
    anna = await registered(bot, 5002, "Anna")
    olle = await registered(bot, 5003, "Olle", org_key="securitas")
    await report(anna, text="Stenar vid porten")
    await report(olle, what="☐ Stenkastning", severity="4 – Mycket allvarligt")
    await olle.send("/lugnt")
    await olle.click("Vivalla")
    async with bot.services.db.session() as session:
        await record_level(session, area_key="vivalla", level="gult",
                           reason="Oro efter helgens bränder",
                           member_id=await member_id(bot, 5001), now=clock())
        await session.commit()
    clock.advance(minutes=5)

    pages = await in_group(bot, fake, 5003, "/lagesbild")  # anyone in the trusted group
    assert len(pages) == 1
    page = pages[0]
    assert "🟡 Vivalla – Gult läge" in page
    assert "💬 Oro efter helgens bränder" in page
    assert "av Karin (Polisen, lokalpolisområde Örebro)" in page
    assert "3 rapporter från 2 organisationer" in page
    assert "2 om problem: Skadegörelse 1, Stenkastning 1" in page
    assert "1 lugnt pass" in page
    assert "Vivallaskolan – Stenkastning · allvar 4" in page
    assert "🟢 Centrum – Grönt läge" in page
    # Free text stays out of the group by default.
    assert "Stenar vid porten" not in page
    assert "Fritext visas inte i gruppen" in page
    assert fake.unanswered_callback_queries() == []

    # The coordinator sees it privately, free text included.
    mine = await private(bot, karin, "/lagesbild vivalla")
    assert len(mine) == 1
    assert "🟡 Vivalla – Gult läge" in mine[0]
    assert "Stenar vid porten" in mine[0]
    assert "Centrum" not in mine[0]


async def test_a_reporter_is_refused_in_private(bot, fake):
    anna = await registered(bot, 5010, "Anna")
    await report(anna)
    replies = await private(bot, anna, "/lagesbild")
    assert len(replies) == 1
    assert "till för samordnare" in replies[0]
    assert "Vivalla" not in replies[0]


async def test_egen_reports_only_for_coordinators_of_the_same_organisation(bot, fake):
    await coordinator_group(bot, fake)
    same = await registered(bot, 5020, "Per", role="coordinator", org_key="polisen")
    other = await registered(bot, 5021, "Lisa", role="coordinator", org_key="kommunen")
    officer = await registered(bot, 5022, "Omar", org_key="polisen")
    await report(officer, what="☐ Bilbrand", sharing="Bara min organisation",
                 text="Uppgift från tipsare")

    seen = (await private(bot, same, "/lagesbild Vivalla"))[0]
    assert "1 rapport från 1 organisation" in seen
    assert "Bilbrand" in seen and "Uppgift från tipsare" in seen
    assert "egna rapporter från Polisen" in seen

    hidden = (await private(bot, other, "/lagesbild VIVALLA"))[0]
    assert "Inga rapporter senaste 7 dygnen" in hidden
    assert "Bilbrand" not in hidden and "tipsare" not in hidden

    group = (await in_group(bot, fake, 5020, "/lagesbild vivalla"))[0]
    assert "Inga rapporter senaste 7 dygnen" in group and "Bilbrand" not in group


async def test_unknown_area_lists_the_valid_ones(bot, fake):
    karin = await registered(bot, 5030, "Karin", role="coordinator", org_key="kommunen")
    [reply] = await private(bot, karin, "/lagesbild Atlantis")
    assert "Atlantis" in reply
    for name, key in [("Vivalla", "vivalla"), ("Baronbackarna", "baronbackarna"),
                      ("Centrum", "centrum")]:
        assert f"{name} – /lagesbild {key}" in reply
    assert "Samlad lägesbild" not in reply


async def test_private_picture_with_area_buttons_events_and_insatser(bot, fake, clock):
    karin = await registered(bot, 5040, "Karin", role="coordinator", org_key="kommunen")
    async with bot.services.db.session() as session:
        session.add(Event(area_key="vivalla", starts_at=clock() + timedelta(days=2),
                          title="Fotbollsmatch på Vivalla IP", created_at=clock()))
        session.add(Event(area_key="vivalla", starts_at=clock() + timedelta(days=20),
                          title="Långt fram", created_at=clock()))
        session.add(Insats(area_key="vivalla", place_key="viv_centrum",
                           what="Extra nattvandring", org_key="nattvandrarna",
                           starts_at=clock() + timedelta(days=1),
                           ends_at=clock() + timedelta(days=2), created_at=clock()))
        session.add(Insats(area_key="vivalla", what="Avslutad belysning", org_key="obo",
                           starts_at=clock() - timedelta(days=5),
                           ends_at=clock() - timedelta(days=1), status="done",
                           created_at=clock()))
        await session.commit()

    pages = await private(bot, karin, "/lagesbild")
    assert len(pages) == 1
    assert "Samlad lägesbild – Örebro kommun" in pages[0]
    assert "Fotbollsmatch på Vivalla IP" in pages[0] and "Långt fram" not in pages[0]
    assert "Planerad: Extra nattvandring · Vivalla centrum (torget) (Nattvandrarna Örebro)" \
        in pages[0]
    assert "Avslutad belysning" not in pages[0]
    assert set(karin.buttons()) == {a.name for a in bot.services.config.areas}

    zoomed = await karin.click("Centrum")
    assert "🟢 Centrum – Grönt läge" in zoomed["text"]
    assert "Vivalla" not in zoomed["text"]
    assert fake.unanswered_callback_queries() == []


async def test_a_forged_area_button_changes_nothing(bot, fake):
    karin = await registered(bot, 5050, "Karin", role="coordinator", org_key="kommunen")
    await karin.send("/lagesbild")
    before = len(fake.bot_messages(5050))
    fake.click_data(5050, karin.last_with_buttons, "lb:atlantis")
    await bot.settle()
    assert len(fake.bot_messages(5050)) == before
    assert fake.unanswered_callback_queries() == []

    anna = await registered(bot, 5051, "Anna")
    fake.click_data(5051, anna.last, "lb:vivalla")
    await bot.settle()
    assert fake.unanswered_callback_queries() == []
    assert not any("Samlad lägesbild" in t for t in anna.texts())


async def stored_report(bot, user_id: int, **fields) -> None:
    """A report stored as the dialog stores it, without the taps (for volume)."""
    async with bot.services.db.session() as session:
        member = await member_by_user(session, user_id)
        data = DraftData(occurred_at=bot.clock().isoformat(), people="3-5", **fields)
        draft = await open_draft(session, member_id=member.id, chat_id=user_id, step="summary",
                                 data=data.to_json(), now=bot.clock())
        await submit_draft(session, draft, member, now=bot.clock(), year=2026)
        await session.commit()


async def test_a_busy_week_splits_into_valid_messages(bot, fake):
    await coordinator_group(bot, fake)
    await registered(bot, 5060, "Anna")
    config = bot.services.config
    for area in config.areas:
        for place in area.places:
            await stored_report(bot, 5060, area=area.key, place_key=place.key,
                                categories=["stenkastning"], severity=4,
                                text=f"Stenkastning mot bussen vid {place.name} & " * 5)
    karin = await registered(bot, 5061, "Karin", role="coordinator", org_key="kommunen")
    for pages in (await private(bot, karin, "/lagesbild"),
                  await in_group(bot, fake, 5061, "/lagesbild")):
        assert len(pages) > 1
        for area in config.areas:
            assert sum(f"{area.name} – Grönt läge" in page for page in pages) == 1
        # The fake refuses invalid HTML and texts over 4096, so arriving proves both.
        assert all(len(page) <= 4096 for page in pages)
    assert "Stenkastning mot bussen" in "".join(await private(bot, karin, "/lagesbild"))
