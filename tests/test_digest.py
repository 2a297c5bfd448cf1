"""The Thursday digest: the seven agenda points, the week matrix, from the example config.

``seed_example`` fills a database with eight weeks of generated reports and a level
history for the bundled Örebro example; the briefing, posts and preview tests use it too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.core.services import Services
from bot.outbound.posts import TEXT_LIMIT, compose_digest, digest_inputs, digest_pages
from est.analysis import ReportFact
from est.digest import (
    AGENDA,
    AgendaEntry,
    LevelChange,
    highest_level,
    level_matrix,
    week_facts,
    week_starts,
)
from est.levels import Level
from est.report_draft import EGEN, FORMEDLAD
from est.report_draft import ReportDraft as DraftData
from storage.db import Database
from storage.levels import record_level
from storage.members import add_member
from storage.models import AgendaItem, Event, Insats
from storage.reports import open_draft, submit_draft
from tests.utils.harness import FakeClock

# Thursday 26 November 2026, 08:00 in Örebro (UTC+1): week 48.
DIGEST_AT = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
SECRET_TEXT = "Anna Andersson på Storgatan 5 sa att"
REPORTER_NAMES = ("Kalle", "Fatima", "Olle", "Mirja")
# Problem reports (förmedlade) per ISO week, v41 … v48; v48 runs until the digest.
WEEKLY = {
    "vivalla": [2, 3, 1, 4, 3, 5, 9, 12],
    "baronbackarna": [1, 0, 2, 1, 0, 2, 4, 3],
    "oxhagen": [0, 0, 1, 0, 0, 0, 0, 0],
    "varberga": [1, 2, 2, 14, 6, 2, 1, 1],
    "brickebacken": [0, 1, 0, 0, 1, 0, 0, 2],
    "centrum": [3, 2, 4, 3, 5, 2, 3, 2],
}
# (area, level, local day and hour): Varberga's episode in v44–v46, Vivalla rising.
LEVELS = [
    ("varberga", "gult", datetime(2026, 10, 27, 18)),
    ("varberga", "rött", datetime(2026, 10, 29, 21)),
    ("varberga", "orange", datetime(2026, 10, 31, 12)),
    ("varberga", "grönt", datetime(2026, 11, 12, 9)),
    ("vivalla", "gult", datetime(2026, 11, 18, 10)),
    ("vivalla", "rött", datetime(2026, 11, 24, 22)),
    ("baronbackarna", "gult", datetime(2026, 11, 20, 10)),
    ("baronbackarna", "grönt", datetime(2026, 11, 23, 10)),
]
PROBLEMS = ["skadegorelse", "samling", "stenkastning", "mindre_brand", "normbrytande",
            "bilbrand", "upplag"]


@dataclass
class Seeded:
    members: dict[str, int] = field(default_factory=dict)
    coordinator_id: int = 0
    texts_with_names: int = 0


async def add_report(session, member, *, area: str, at: datetime, categories: list[str],
                     place_key: str | None = None, place_name: str | None = None,
                     severity: int = 2, people: str = "3-5", text: str | None = None,
                     sharing: str = FORMEDLAD):
    """A report through the real storage path (draft → submit)."""
    data = DraftData(area=area, place_key=place_key, place_name=place_name,
                     categories=categories, people=people,
                     occurred_at=at.astimezone(UTC).isoformat(), severity=severity, text=text,
                     sharing=sharing)
    draft = await open_draft(session, member_id=member.id, chat_id=member.telegram_user_id,
                             step="summary", data=data.to_json(), now=at)
    return await submit_draft(session, draft, member, now=at, year=at.year)


async def seed_example(db: Database, config, now: datetime = DIGEST_AT,
                       seed: int = 48) -> Seeded:
    """Eight weeks of generated reports for the Örebro example, and a level history.

    Exactly ``WEEKLY`` förmedlade problem reports per area and ISO week, plus reports that
    must never be counted or shown in group posts: egna reports, calm shifts (counted as
    calm only), withdrawn-free text with a name in it, and reports after ``now``.
    """
    rng = random.Random(seed)
    tz = config.tz
    seeded = Seeded()
    async with db.session() as session:
        members = {}
        orgs = ["nattvandrarna", "faltgruppen", "securitas", "obo"]
        for i, org in enumerate(orgs):
            members[org] = await add_member(session, telegram_user_id=7100 + i,
                                            first_name=REPORTER_NAMES[i], role="reporter",
                                            org_key=org, now=now - timedelta(days=90))
        coordinator = await add_member(session, telegram_user_id=7200, first_name="Karin",
                                       role="coordinator", org_key="polisen",
                                       now=now - timedelta(days=90))
        seeded.members = {org: m.id for org, m in members.items()}
        seeded.coordinator_id = coordinator.id

        mondays = week_starts(now.astimezone(tz).date())
        for area in config.areas:
            places = [p.key for p in area.places]
            for column, monday in enumerate(mondays):
                start = datetime.combine(monday, datetime.min.time(), tzinfo=tz)
                span = timedelta(days=7)
                if column == len(mondays) - 1:
                    span = now - start - timedelta(hours=2)
                count = WEEKLY[area.key][column]
                for k in range(count):
                    at = start + span * (k + 0.5) / count
                    # Current week: most reports at the area's first place (a hotspot).
                    place = places[0] if column >= 6 and k % 3 != 2 else rng.choice(places)
                    org = rng.choice(orgs)
                    if org == "obo" and area.key == "centrum":
                        org = "securitas"
                    text = SECRET_TEXT if k % 4 == 1 else None
                    await add_report(session, members[org], area=area.key, at=at,
                                     categories=[rng.choice(PROBLEMS)], place_key=place,
                                     severity=rng.choice([2, 3, 3, 4]),
                                     people=rng.choice(["1-2", "3-5", "6-10"]), text=text)
                    seeded.texts_with_names += text is not None
                # Calm shifts and one egen report per week: never problem counts.
                calm_at = start + timedelta(days=4, hours=21)
                if calm_at < now:
                    await add_report(session, members["nattvandrarna"], area=area.key,
                                     at=calm_at, categories=["lugnt"], place_key=places[1],
                                     severity=1, people="0")
                egen_at = start + timedelta(days=2, hours=22)
                if egen_at < now:
                    await add_report(session, members["securitas"], area=area.key,
                                     at=egen_at, categories=["bilbrand"], place_key=places[0],
                                     severity=4, text=SECRET_TEXT, sharing=EGEN)
        # After the digest's moment: must not count in a preview of that moment.
        await add_report(session, members["nattvandrarna"], area="oxhagen",
                         at=now + timedelta(hours=3), categories=["stenkastning"],
                         place_key="oxh_skola", severity=4)
        for area_key, level, local in LEVELS:
            await record_level(session, area_key=area_key, level=level,
                               reason=f"Skäl för {level} i {area_key}",
                               member_id=coordinator.id,
                               now=local.replace(tzinfo=tz).astimezone(UTC))
        await session.commit()
    return seeded


async def add_planning(db: Database, now: datetime = DIGEST_AT) -> None:
    """An event, an insats and agenda items: one open beslut, one resolved samordning."""
    async with db.session() as session:
        session.add(Event(area_key="centrum", starts_at=now + timedelta(days=2, hours=8),
                          title="Fotbollsmatch ÖSK–AIK", created_at=now - timedelta(days=3)))
        session.add(Event(area_key=None, starts_at=now + timedelta(days=9),
                          title="Ljusfest i hela stan", created_at=now - timedelta(days=3)))
        session.add(Insats(area_key="vivalla", place_key="viv_skola", what="Extra nattvandring",
                           org_key="nattvandrarna", starts_at=now - timedelta(days=1),
                           ends_at=now + timedelta(days=3), status="running",
                           created_at=now - timedelta(days=2)))
        session.add(AgendaItem(kind="beslut", text="Förstärkning med fältare i Vivalla i helgen",
                               created_at=now - timedelta(days=1)))
        session.add(AgendaItem(kind="samordning", text="Gemensam rond Varberga (klar)",
                               created_at=now - timedelta(days=6),
                               resolved_at=now - timedelta(days=2)))
        await session.commit()


@pytest.fixture
async def services(database_url, config):
    db = Database(database_url)
    yield Services(config=config, db=db, clock=FakeClock(DIGEST_AT))
    await db.dispose()


def _positions(text: str, needles: list[str]) -> list[int]:
    return [text.index(needle) for needle in needles]


# ---------------------------------------------------------------- the agenda itself

def test_the_agenda_is_the_meetings_dagordning_in_order():
    assert [p.number for p in AGENDA] == [1, 2, 3, 4, 5, 6, 7]
    assert [p.heading for p in AGENDA] == [
        "Fakta/händelser under senaste veckan",
        "Information om kommande händelser",
        "Samlad lägesbild, hotspots. Trolig utveckling",
        "Planerade åtgärder för att hantera händelsen",
        "Behov av nya beslut eller förstärkning",
        "Behov av ytterligare samordning på kort sikt",
        "Påverkas andra verksamheter som behöver informeras",
    ]


# ---------------------------------------------------------------- the whole digest

async def test_digest_for_the_example_has_all_seven_points_in_order(services, config):
    seeded = await seed_example(services.db, config)
    await add_planning(services.db)
    post = await compose_digest(services, DIGEST_AT)

    assert post.skip_reason is None
    assert all(len(text) <= TEXT_LIMIT for text in post.texts)
    whole = "\n".join(post.texts)
    headings = [f"<b>{p.number}. {p.heading}</b>" for p in AGENDA]
    positions = _positions(whole, headings)
    assert positions == sorted(positions)
    assert all(whole.count(h) == 1 for h in headings)
    assert "vecka 48" in post.texts[0]

    point = {p.number: whole[positions[i]:(positions[i + 1] if i < 6 else len(whole))]
             for i, p in enumerate(AGENDA)}
    # 1: by area and category with the week before; egna and calm reports are not problems.
    # Vivalla, Thu 19 Nov 08:00 – Thu 26 Nov 08:00: 5 of v47's 9 reports (spread evenly
    # over the week) and all 12 of v48; the week before: 3 of v46's 5 and 4 of v47's 9.
    assert "• <b>Vivalla</b>: 17 (veckan före 7), 4 organisationer · 1 lugnt pass" in point[1]
    assert "Totalt" in point[1] and "lugna pass" in point[1]
    # 2: the coming events, with their area.
    assert "Fotbollsmatch ÖSK–AIK (Centrum)" in point[2]
    assert "Ljusfest i hela stan" in point[2]
    # 3: levels with reasons, hotspots, a trend sentence.
    assert "🔴 <b>Vivalla</b> – Rött läge" in point[3]
    assert "Skäl för rött i vivalla" in point[3]
    assert "🟢 <b>Varberga</b> – Grönt läge" in point[3]
    assert "🔥 <b>Hotspots</b>" in point[3]
    assert "Vivalla centrum (torget) (Vivalla)" in point[3]
    assert "Trolig utveckling:" in point[3] and "Förhöjt läge: Vivalla (rött)" in point[3]
    # 4: the running insats.
    assert "Pågår: Extra nattvandring · Vivallaskolan, Vivalla" in point[4]
    # 5–7: the open flagged item; the resolved one is gone; empty points say so.
    assert "Förstärkning med fältare i Vivalla i helgen" in point[5]
    assert "Inget anmält." not in point[5]
    assert "Inget anmält." in point[6] and "Gemensam rond" not in whole
    assert "Inget anmält." in point[7]
    # Group-safe: no free text, no names of reporters or coordinators.
    assert seeded.texts_with_names > 0
    assert "Anna Andersson" not in whole and "Storgatan" not in whole
    for name in (*REPORTER_NAMES, "Karin"):
        assert name not in whole

    assert [i.filename for i in post.images] == ["lagesbild-veckor-2026-11-26.png",
                                                 "hotspots-2026-11-26.png"]
    for image in post.images:
        assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
        assert 20_000 < len(image.png) < 600_000
        assert 0 < len(image.caption) <= 1024


async def test_point_one_counts_förmedlade_problem_reports_this_week_and_the_week_before(
        services, config):
    await seed_example(services.db, config)
    digest, matrix, _ = await digest_inputs(services, DIGEST_AT)
    by_area = {a.area_key: a for a in digest.facts}
    # Rolling 7 days back from Thursday 08:00: Thu–Sun of v47 and Mon–Wed of v48.
    vivalla = by_area["vivalla"]
    assert vivalla.problem_reports + vivalla.last_week_problem_reports > 0
    assert sum(a.problem_reports for a in digest.facts) == digest.problem_reports
    # Egna reports (one per area and week, Bilbrand) are not in the group digest.
    assert all(a.calm_reports == 1 for a in digest.facts)
    # The matrix counts ISO weeks exactly as generated (förmedlade problem reports).
    for area_key, counts in WEEKLY.items():
        assert [c.reports for c in matrix.cells[matrix.area_keys.index(area_key)]] == counts


async def test_digest_of_an_empty_database_still_has_every_point(services):
    post = await compose_digest(services, DIGEST_AT)
    whole = "\n".join(post.texts)
    positions = _positions(whole, [f"<b>{p.number}. {p.heading}</b>" for p in AGENDA])
    assert positions == sorted(positions)
    assert whole.count("Inget anmält.") == 3
    assert "Inga rapporter de senaste två veckorna." in whole
    assert "🔥 Inga hotspots denna vecka." in whole
    assert "Inga planerade eller pågående insatser" in whole
    assert "Alla områden har grönt läge." in whole
    # The matrix still comes (all grönt, zeros); no hotspot picture without hotspots.
    assert [i.filename for i in post.images] == ["lagesbild-veckor-2026-11-26.png"]


async def test_a_long_agenda_is_split_between_points_within_the_limit(services, config):
    async with services.db.session() as session:
        for i in range(40):
            kind = ("beslut", "samordning", "informera")[i % 3]
            session.add(AgendaItem(kind=kind, text=f"Punkt {i}: " + "behov av stöd " * 20,
                                   created_at=DIGEST_AT - timedelta(hours=i + 1)))
        await session.commit()
    digest, _, _ = await digest_inputs(services, DIGEST_AT)
    texts = digest_pages(services, digest)
    assert len(texts) >= 3
    assert all(len(t) <= TEXT_LIMIT for t in texts)
    assert texts[1].startswith("🗓 <b>Inför torsdagsmötet – vecka 48 (forts.)</b>")
    whole = "\n".join(texts)
    positions = _positions(whole, [f"<b>{p.number}. {p.heading}</b>" for p in AGENDA])
    assert positions == sorted(positions)
    # Each page break falls between points: every page after the first starts a point.
    for text in texts[1:]:
        assert text.split("\n\n", 1)[1].startswith("<b>")


# ---------------------------------------------------------------- pure parts

def _fact(i: int, area: str, at: datetime, *categories: str, org: str = "obo") -> ReportFact:
    return ReportFact(report_id=i, area_key=area, place_key=None, place_name=None,
                      org_key=org, category_keys=tuple(categories), people="3-5", severity=2,
                      occurred_at=at)


def test_week_facts_compare_categories_with_the_week_before(config):
    end = DIGEST_AT
    facts = [
        _fact(1, "vivalla", end - timedelta(days=1), "skadegorelse"),
        _fact(2, "vivalla", end - timedelta(days=2), "skadegorelse", "stenkastning"),
        _fact(3, "vivalla", end - timedelta(days=9), "bilbrand"),
        _fact(4, "vivalla", end - timedelta(days=3), "lugnt", org="nattvandrarna"),
        _fact(5, "vivalla", end - timedelta(days=20), "bilbrand"),  # too old
    ]
    vivalla = week_facts(config, facts, end)[0]
    assert (vivalla.problem_reports, vivalla.last_week_problem_reports) == (2, 1)
    assert vivalla.calm_reports == 1 and vivalla.organisations == 2
    assert [(c.label, c.this_week, c.last_week) for c in vivalla.categories] == [
        ("Skadegörelse", 2, 0), ("Stenkastning", 1, 0), ("Bilbrand", 0, 1)]


def test_week_starts_are_the_last_eight_iso_mondays():
    starts = week_starts(date(2026, 11, 26))
    assert starts[0] == date(2026, 10, 5) and starts[-1] == date(2026, 11, 23)
    assert [d.isocalendar().week for d in starts] == list(range(41, 49))
    assert week_starts(date(2026, 11, 23))[-1] == date(2026, 11, 23)


def test_highest_level_of_a_week_counts_what_held_at_its_start(config):
    tz = config.tz

    def at(day: int, hour: int = 12) -> datetime:
        return datetime(2026, 11, day, hour, tzinfo=tz)

    changes = [LevelChange("vivalla", Level.GUL, at(20)),
               LevelChange("vivalla", Level.GRON, at(23, 10))]
    week = (at(23, 0), at(30, 0))
    assert highest_level(changes, *week) == Level.GUL  # gult until Monday 10:00
    assert highest_level(changes, at(30, 0), at(30, 0) + timedelta(days=7)) == Level.GRON
    assert highest_level([], *week) == Level.GRON


def test_level_matrix_cells_take_the_level_colour_of_the_highest_level(config):
    tz = config.tz
    changes = [LevelChange(area, Level(level), local.replace(tzinfo=tz).astimezone(UTC))
               for area, level, local in LEVELS]
    matrix = level_matrix(config, changes, [], DIGEST_AT)
    assert matrix.week_labels == [f"v. {n}" for n in range(41, 49)]
    varberga = {w: matrix.cell("varberga", week_starts(date(2026, 11, 26))[i]).level
                for i, w in enumerate(range(41, 49))}
    assert varberga == {41: Level.GRON, 42: Level.GRON, 43: Level.GRON, 44: Level.ROD,
                        45: Level.ORANGE, 46: Level.ORANGE, 47: Level.GRON, 48: Level.GRON}
    monday_v48 = date(2026, 11, 23)
    assert matrix.cell("vivalla", monday_v48).level == Level.ROD
    assert matrix.cell("baronbackarna", monday_v48).level == Level.GUL
    assert matrix.cell("vivalla", monday_v48).level.colour == "#d62828"
    # A change after the digest's moment is not part of it.
    later = [*changes, LevelChange("oxhagen", Level.ROD, DIGEST_AT + timedelta(hours=1))]
    assert level_matrix(config, later, [], DIGEST_AT).cell("oxhagen", monday_v48).level \
        == Level.GRON


def test_flagged_items_show_organisation_never_the_person(config):
    from est.digest import flagged_items

    entry = AgendaEntry(item_id=3, kind="informera", text="  Skolan   behöver veta ",
                        area_key="vivalla", org_key="polisen", created_at=DIGEST_AT)
    flagged = flagged_items(config, [entry])
    assert flagged["beslut"] == [] and flagged["samordning"] == []
    item = flagged["informera"][0]
    assert (item.text, item.area_name, item.org_name) == ("Skolan behöver veta", "Vivalla",
                                                          "Polisen, lokalpolisområde Örebro")
