"""What a group, a reporter or a coordinator may see and change (issue 8, section 4).

Tried as an attacker would: an egen report must not move a group's alert, a typed place
name is free text, a location far outside the kommun is refused, only the responsible
organisation changes its insats, an alert's buttons count in its own chat only, and an
egen report nobody could read is pointed out before it is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.outbound.posts import compose_briefing, compose_daily, compose_digest
from est import alert_policy, geo, visibility
from est.analysis import ReportFact
from est.config import ConfigError, default_config_path, load_config, parse_config
from est.lagesbild import InsatsInfo, compose_picture
from est.recipients import Person
from est.report_draft import EGEN, FORMEDLAD
from storage.models import Alert, AreaLevel, Dialog, Insats, Report
from tests.conftest import file_report, make_admin, registered
from tests.test_levels_bot import GROUP, OTHER_GROUP, alert_posts, coordinator_group

SHARED, OWN = "Alla samordnare", "Bara min organisation"
HOT = "☐ Hot/våld mot personal"
TYPED_PLACE = "Utanför Storgatan 5 där familjen Berg bor"
OTHER_PLACE = "Annan plats"
SYDNEY = (-33.8688, 151.2093)
VIVALLASKOLAN = (59.2925, 15.1570)


async def rows(bot, model, *where):
    async with bot.services.db.session() as session:
        query = select(model)
        for clause in where:
            query = query.where(clause)
        return list((await session.exec(query)).all())


def message_now(fake, chat_id: int, message: dict) -> dict:
    return next(m for m in fake.bot_messages(chat_id)
                if m["message_id"] == message["message_id"])


async def report_at_typed_place(person, *, area="Centrum", typed=TYPED_PLACE,
                                category="☐ Skadegörelse", severity="3 – Allvarligt",
                                sharing=SHARED) -> dict:
    """/rapport with "Annan plats (skriv)" and a typed place name."""
    await person.send("/rapport")
    await person.click(area)
    await person.click("Annan plats (skriv)")
    await person.send(typed)
    for label in [category, "Klar ✔", "3–5", "Nu", severity, "Hoppa över", sharing]:
        await person.click(label)
    receipt = await person.click("✅ Skicka")
    assert "Mottagen" in receipt["text"]
    return receipt


# ---------------------------------------------------------------- 1. egen reports and alerts

async def test_egen_report_neither_edits_nor_resends_the_group_alert(bot, fake, clock):
    await coordinator_group(bot, fake)
    anna = await registered(bot, 2002, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2003, "Bo", org_key="securitas")
    await registered(bot, 2004, "Olle", role="coordinator", org_key="obo")
    cecilia = await registered(bot, 2005, "Cecilia", org_key="obo")
    await file_report(anna, area="Centrum", place="Stortorget")
    await file_report(bo, area="Centrum", place="Stortorget")
    [alert_post] = alert_posts(fake)
    [alert] = await rows(bot, Alert)

    clock.advance(hours=30)  # the score has decayed since: a re-evaluation would show it
    await coordinator_group(bot, fake, OTHER_GROUP)  # a group registered after the alert
    group_before = len(fake.bot_messages(GROUP))
    other_before = len(fake.bot_messages(OTHER_GROUP))
    await file_report(cecilia, area="Centrum", place="Stortorget", sharing=OWN)

    assert message_now(fake, GROUP, alert_post)["text"] == alert_post["text"]
    assert len(fake.bot_messages(GROUP)) == group_before
    assert len(fake.bot_messages(OTHER_GROUP)) == other_before
    [unchanged] = await rows(bot, Alert)
    assert (unchanged.updated_at, unchanged.report_ids, unchanged.reasons) == (
        alert.updated_at, alert.report_ids, alert.reasons)

    # A förmedlad report is the groups' business: the alert moves, the new group gets it.
    await file_report(anna, area="Centrum", place="Stortorget")
    assert message_now(fake, GROUP, alert_post)["text"] != alert_post["text"]
    assert "3 rapporter" in message_now(fake, GROUP, alert_post)["text"]
    assert len(alert_posts(fake, OTHER_GROUP)) == 1


def test_only_a_report_the_groups_may_see_moves_their_alert():
    assert alert_policy.report_moves_group_alert(FORMEDLAD, 7, counted_report_ids=())
    assert not alert_policy.report_moves_group_alert(EGEN, 7, counted_report_ids=())
    assert not alert_policy.report_moves_group_alert("okänt", 7, counted_report_ids=())
    # Edited from förmedlad to egen: the groups counted it, so their alert is corrected.
    assert alert_policy.report_moves_group_alert(EGEN, 7, counted_report_ids=(3, 7))
    assert visibility.visible_in_group(FORMEDLAD) and not visibility.visible_in_group(EGEN)


# ---------------------------------------------------------------- 2. typed place names

async def insats_at_typed_place(person, typed: str) -> None:
    await person.send("/insats ny")
    await person.click("Oxhagen")
    await person.click("Annan plats (skriv)")
    await person.send(typed)
    await person.send("Ny belysning")
    await person.click("Örebro kommun")
    await person.click("Skriv period")
    await person.send("i morgon 18-23")
    assert "registrerad" in (await person.click("✅ Spara"))["text"]


async def test_typed_place_stays_out_of_group_posts(bot, fake, clock):
    await coordinator_group(bot, fake)
    karin = await registered(bot, 2101, "Karin", role="coordinator", org_key="kommunen")
    anna = await registered(bot, 2102, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2103, "Bo", org_key="securitas")
    before = len(fake.bot_messages(GROUP))
    await report_at_typed_place(anna, category=HOT)
    await report_at_typed_place(bo)
    await report_at_typed_place(bo, typed="utanför  storgatan 5 där familjen Berg bor!")
    await insats_at_typed_place(karin, "Gångtunneln vid Storgatan 5")

    posted = [m["text"] for m in fake.bot_messages(GROUP)[before:]]
    [urgent] = [t for t in posted if "🚨 Akut" in t]
    assert f"Centrum · {OTHER_PLACE}" in urgent
    fake.send_text(2101, "/lagesbild", chat_id=GROUP)
    await bot.settle()
    picture = fake.last_bot_message(GROUP)["text"]
    assert f"{OTHER_PLACE}:" in picture  # the hotspot
    assert f" · {OTHER_PLACE} –" in picture  # a notable report
    assert f"Ny belysning · {OTHER_PLACE}" in picture  # the insats
    now = clock()
    scheduled = {kind: (await compose(bot.services, now)).texts
                 for kind, compose in (("daily", compose_daily), ("digest", compose_digest),
                                       ("briefing", compose_briefing))}
    for where, texts in [("group posts", posted), ("group lägesbild", [picture]),
                         *scheduled.items()]:
        for text in texts:
            assert "Storgatan" not in text and "storgatan" not in text, (where, text)
    assert any(OTHER_PLACE in text for text in scheduled["digest"])

    # In private a coordinator reads the reporter's own words.
    mine = await karin.send("/lagesbild centrum")
    assert TYPED_PLACE in mine["text"]


def fact(report_id: int, place_name: str | None, place_key: str | None = None) -> ReportFact:
    at = datetime(2026, 11, 20, 19, 0, tzinfo=UTC) - timedelta(minutes=report_id)
    return ReportFact(report_id=report_id, area_key="centrum", place_key=place_key,
                      place_name=place_name, org_key="securitas",
                      category_keys=("stenkastning",), people="6-10", severity=3,
                      occurred_at=at, withdrawn=False)


def test_typed_place_in_a_group_picture_only_when_the_kommun_allows_free_text(config):
    now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
    facts = [(fact(1, TYPED_PLACE), FORMEDLAD), (fact(2, TYPED_PLACE), FORMEDLAD),
             (fact(3, None, "cen_stortorget"), FORMEDLAD)]
    insats = InsatsInfo("centrum", None, "Bakom Storgatan 5", "Vakter", "securitas",
                        now, now + timedelta(hours=3), "running")
    allowed = config.model_copy(update={
        "reporting": config.reporting.model_copy(update={"free_text_in_groups": True})})
    for cfg, in_group, shown in ((config, True, False), (allowed, True, True),
                                 (config, False, True)):
        [area] = compose_picture(cfg, facts, {}, [], [insats], now, "centrum",
                                 viewer_org_key="kommunen", in_group=in_group).areas
        places = ([n.place for n in area.notable] + [h.label for h in area.hotspots]
                  + [i.place for i in area.insatser])
        assert "Stortorget" in places
        assert (TYPED_PLACE in places) is shown and (OTHER_PLACE in places) is not shown
        assert ("Bakom Storgatan 5" in places) is shown


def test_shown_place_names_configured_places_and_hides_typed_ones(config):
    def shown(place_key, typed, free_text):
        return visibility.shown_place(config, "vivalla", place_key, typed, free_text=free_text)

    assert shown("viv_skola", None, False) == "Vivallaskolan"
    assert shown(None, "  Bakom  ICA ", True) == "Bakom ICA"
    assert shown(None, "Bakom ICA", False) == OTHER_PLACE
    assert shown("riven", None, False) == "riven"  # a place removed from the config
    assert shown(None, "   ", False) is None and shown(None, None, True) is None


# ---------------------------------------------------------------- 3. shared locations

async def to_place_step(person, area: str = "Vivalla") -> None:
    await person.send("/rapport")
    await person.click(area)


async def open_report(bot) -> Dialog:
    [row] = [d for d in await rows(bot, Dialog) if d.kind == "report" and d.status == "open"]
    return row


async def test_location_outside_the_kommun_is_refused_and_changes_nothing(bot, fake):
    anna = await registered(bot, 2201, "Anna")
    await to_place_step(anna)
    before = (await open_report(bot)).data, (await open_report(bot)).step
    refused = await anna.share_location(*SYDNEY)
    assert "utanför" in refused["text"] and "Örebro kommun" in refused["text"]
    row = await open_report(bot)
    assert (row.data, row.step) == before
    # Still at the place step: a place of the list finishes the step as usual.
    await anna.click("Vivallaskolan")
    for label in ["☐ Skadegörelse", "Klar ✔", "3–5", "Nu", "3 – Allvarligt", "Hoppa över",
                  SHARED, "✅ Skicka"]:
        await anna.click(label)
    [report] = await rows(bot, Report)
    assert (report.place_key, report.lat, report.lon) == ("viv_skola", None, None)


async def test_location_near_a_known_place_is_stored_as_that_place(bot, fake):
    anna = await registered(bot, 2202, "Anna")
    await to_place_step(anna)
    # About 60 m north of Vivallaskolan.
    step = await anna.share_location(VIVALLASKOLAN[0] + 0.00055, VIVALLASKOLAN[1])
    assert "Vivallaskolan" in step["text"]
    row = await open_report(bot)
    assert (row.data["place_key"], row.data["lat"], row.data["lon"]) == ("viv_skola", None,
                                                                         None)
    # Within the kommun but at no known place of the area: the position itself is kept.
    await anna.click("◀ Tillbaka")
    step = await anna.share_location(59.3010, 15.1400)
    row = await open_report(bot)
    assert (row.data["place_key"], row.data["lat"], row.data["lon"]) == (None, 59.301,
                                                                         15.14)
    assert "delad position" in step["text"]


def test_deployment_box_from_the_places_with_a_margin(config):
    box = geo.deployment_box(config)
    assert geo.inside(box, *VIVALLASKOLAN) and geo.inside(box, 59.2418, 15.2030)
    assert not geo.inside(box, *SYDNEY)
    assert not geo.inside(box, 59.3293, 18.0686)  # Stockholm
    assert not geo.inside(box, float("nan"), 15.2) and not geo.inside(box, 91.0, 15.2)
    # A few kilometres beyond the outermost place still counts (the kommun is larger).
    assert geo.inside(box, 59.2418 - 0.03, 15.2030)
    located = geo.locate(config, "vivalla", VIVALLASKOLAN[0] + 0.0009, VIVALLASKOLAN[1])
    assert located == geo.Located(place_key="viv_skola")  # 100 m away
    located = geo.locate(config, "vivalla", VIVALLASKOLAN[0] + 0.0018, VIVALLASKOLAN[1])
    assert located == geo.Located(lat=59.2943, lon=15.157)  # 200 m away: the position
    # Near a place of another area: not that place (the reporter chose Vivalla).
    located = geo.locate(config, "vivalla", 59.2737, 15.2133)
    assert located is not None and located.place_key is None
    assert geo.locate(config, "vivalla", *SYDNEY) is None


BOX = """
[bounding_box]
south = 59.0
north = 59.5
west = 14.6
east = 15.6
"""


def test_an_optional_bounding_box_in_the_config_is_validated_and_used():
    text = default_config_path().read_text(encoding="utf-8")
    boxed = parse_config(text + BOX)
    assert geo.inside(geo.deployment_box(boxed), 59.45, 14.7)  # far from any place
    assert not geo.inside(geo.deployment_box(load_config(default_config_path())), 59.45, 14.7)
    with pytest.raises(ConfigError) as problem:
        parse_config(text + BOX.replace("south = 59.0", "south = 59.6"))
    assert "bounding_box" in str(problem.value) and "south" in str(problem.value)
    with pytest.raises(ConfigError) as problem:
        parse_config(text + BOX.replace("east = 15.6", "east = 15.2"))
    assert "utanför bounding_box" in str(problem.value)  # Oxhagen lies east of 15.2


# ---------------------------------------------------------------- 4. who changes an insats

async def test_only_the_responsible_organisation_changes_an_insats_status(bot, fake):
    karin = await registered(bot, 2301, "Karin", role="coordinator", org_key="kommunen")
    per = await registered(bot, 2302, "Per", role="coordinator", org_key="polisen")
    await make_admin(bot, 2303)  # an admin of the kommun
    admin = bot.person(2303, "Admin")
    await per.send("/insats ny")
    for label in ["Centrum", "Stortorget"]:
        await per.click(label)
    await per.send("Poliser vid torget")
    await per.click("Polisen, lokalpolisområde Örebro")
    await per.click("Skriv period")
    await per.send("i morgon 18-23")
    await per.click("✅ Spara")

    listing = await karin.send("/insats")
    assert "#1" in listing["text"] and "Poliser vid torget" in listing["text"]
    assert karin.buttons() == ["➕ Ny insats"]  # she sees it, but it is not hers to change
    [own_list] = [d for d in await rows(bot, Dialog)
                  if d.kind == "insats_status" and d.status == "open"]
    for target in ("running", "cancelled", "done"):
        query = fake.click_data(2301, karin.last, f"d:{own_list.id}:s:1.{target}")
        await bot.settle()
        refusal = fake.callback_answer(query["id"])["text"]
        assert "Polisen, lokalpolisområde Örebro" in refusal and "ändra" in refusal
    [insats] = await rows(bot, Insats)
    assert insats.status == "planned"
    assert karin.buttons() == ["➕ Ny insats"]

    await per.send("/insats")
    assert per.buttons() == ["▶ Starta #1", "✖ Ställ in #1", "➕ Ny insats"]
    await admin.send("/insats")
    assert admin.buttons() == ["▶ Starta #1", "✖ Ställ in #1", "➕ Ny insats"]
    await admin.click("▶ Starta #1")
    [insats] = await rows(bot, Insats)
    assert insats.status == "running"


def test_who_may_change_an_insats_status():
    from est.planning import may_change_status
    assert may_change_status("coordinator", "polisen", "polisen")
    assert may_change_status("admin", "kommunen", "polisen")
    assert not may_change_status("coordinator", "kommunen", "polisen")
    assert not may_change_status("reporter", "polisen", "polisen")


# ---------------------------------------------------------------- 5. an alert's own chat

BRIEFING_GROUP = -4903


async def test_alert_press_counts_only_on_the_alert_s_own_post(bot, fake):
    await coordinator_group(bot, fake)
    fake.create_group(BRIEFING_GROUP, "Utsättning")
    fake.add_bot_to_group(BRIEFING_GROUP, 5000)
    await bot.settle()
    fake.send_text(5000, "/registrera_grupp utsättning", chat_id=BRIEFING_GROUP)
    await bot.settle()
    karin = await registered(bot, 2401, "Karin", role="coordinator", org_key="kommunen")
    anna = await registered(bot, 2402, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2403, "Bo", org_key="securitas")
    await file_report(anna, area="Centrum", place="Stortorget")
    await file_report(bo, area="Centrum", place="Stortorget")
    [alert_post] = alert_posts(fake)
    [alert] = await rows(bot, Alert)
    await karin.send("/hjalp")
    elsewhere = [(karin.last, None), (fake.last_bot_message(BRIEFING_GROUP), BRIEFING_GROUP)]
    for message, chat_id in elsewhere:
        for action in ("r", "k"):
            query = fake.click_data(2401, message, f"al:{alert.id}:{action}", chat_id=chat_id)
            await bot.settle()
            assert fake.callback_answer(query["id"])["text"]  # a clear answer
    [still] = await rows(bot, Alert)
    assert still.status == "open" and still.decided_by_member_id is None
    assert await rows(bot, AreaLevel) == []
    assert fake.buttons(alert_post, chat_id=GROUP) == ["Höj till gult", "Behåll"]
    # On its own post, the same press decides.
    fake.click(2401, alert_post, "Höj till gult", chat_id=GROUP)
    await bot.settle()
    [decided] = await rows(bot, Alert)
    assert decided.status == "raised"


# ---------------------------------------------------------------- 6. egen nobody could read

NOBODY_READS = "ingen samordnare"


async def to_sharing_step(person) -> dict:
    await person.send("/rapport")
    for label in ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                  "3 – Allvarligt"]:
        await person.click(label)
    return await person.click("Hoppa över")


async def test_egen_without_a_coordinator_is_pointed_out_and_defaults_to_formedlad(bot, fake):
    await registered(bot, 2501, "Per", role="coordinator", org_key="nattvandrarna")
    anna = await registered(bot, 2502, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2503, "Bo", org_key="securitas")

    step = await to_sharing_step(anna)  # her organisation has a coordinator
    assert "Delning" in step["text"] and NOBODY_READS not in step["text"]
    await anna.click("✖ Avbryt")

    step = await to_sharing_step(bo)
    assert "Delning" in step["text"] and NOBODY_READS in step["text"]
    assert "Securitas Örebro" in step["text"] and "Alla samordnare" in step["text"]
    assert (await open_report(bot)).data["sharing"] == FORMEDLAD
    summary = await bo.click(OWN)  # his choice still counts, with the warning again
    assert NOBODY_READS in summary["text"] and "Bara min organisation" in summary["text"]
    await bo.click("✅ Skicka")
    [report] = await rows(bot, Report)
    assert report.sharing == EGEN

    # Changing that report: at the delning step förmedlad is chosen for him again.
    await bo.send("/mina_rapporter")
    await bo.click(next(b for b in bo.buttons() if b.startswith("Ändra")))
    assert NOBODY_READS in bo.last["text"]  # "Ändra" opens the edit menu (issue 9)
    step = await bo.click("Delning")
    assert NOBODY_READS in step["text"]
    assert (await open_report(bot)).data["sharing"] == FORMEDLAD
    summary = await bo.click("◀ Tillbaka")
    assert "Alla samordnare" in summary["text"] and NOBODY_READS not in summary["text"]


def test_who_reads_an_egen_report():
    people = [Person(1, 11, "coordinator", "polisen"), Person(2, 12, "admin", "kommunen"),
              Person(3, 13, "coordinator", "obo", active=False),
              Person(4, 14, "reporter", "securitas")]
    assert [p.member_id for p in visibility.egen_readers("polisen", people)] == [1]
    assert [p.member_id for p in visibility.egen_readers("kommunen", people)] == [2]
    assert visibility.egen_readers("obo", people) == []  # blocked the bot
    assert visibility.egen_readers("securitas", people) == []
