"""The Friday utsättning and the evening reminder: levels, weekend, changes, advice."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.services import Services
from bot.outbound.posts import compose_briefing, compose_reminder
from est.briefing import ADVICE, AreaBrief, advice_for, weekend_end
from est.levels import Level
from storage.db import Database
from storage.levels import record_level
from storage.members import add_member
from storage.models import Event
from tests.test_digest import REPORTER_NAMES, SECRET_TEXT, add_report, seed_example
from tests.utils.harness import FakeClock

# Friday 27 November 2026, 19:00 in Örebro (UTC+1).
FRIDAY = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
_TAG = re.compile(r"<[^>]+>")


@pytest.fixture
async def services(database_url, config):
    db = Database(database_url)
    yield Services(config=config, db=db, clock=FakeClock(FRIDAY))
    await db.dispose()


def visible(html_text: str) -> str:
    return _TAG.sub("", html_text)


async def test_briefing_for_the_example_has_levels_weekend_changes_and_advice(services,
                                                                             config):
    seeded = await seed_example(services.db, config)
    async with services.db.session() as session:
        session.add(Event(area_key="centrum", starts_at=FRIDAY + timedelta(hours=20),
                          title="Fotbollsmatch ÖSK–AIK", created_at=FRIDAY))
        session.add(Event(area_key=None, starts_at=FRIDAY + timedelta(days=4),
                          title="Nästa vecka – inte i helgen", created_at=FRIDAY))
        await session.commit()
    post = await compose_briefing(services, FRIDAY)

    assert post.images == [] and post.skip_reason is None
    assert len(post.texts) == 1
    text = post.texts[0]
    shown = visible(text)
    assert len(shown) <= 1500, len(shown)
    assert "Utsättning – fredag 27 november" in shown
    # Level per area, with the change since last Friday.
    assert "🔴 Vivalla – rött ⬆ var gult" in shown
    assert "🟢 Baronbackarna – grönt ⬇ var gult" in shown
    assert "🟢 Centrum – grönt" in shown
    # Where to look this weekend: the strongest hotspot and the weekend's events only.
    assert "🔥 Vivalla centrum (torget) (Vivalla)" in shown
    assert "Fotbollsmatch ÖSK–AIK (Centrum)" in shown
    assert "Nästa vecka" not in shown
    # What changed, as counts.
    assert "• Vivalla: gult → rött" in shown
    assert re.search(r"\d+ rapporter om problem senaste veckan \(veckan före \d+\)", shown)
    # Practical advice for the levels that hold, most urgent first.
    advice = shown[shown.index("Råd för passet"):]
    assert advice.index("Vivalla: följ polisens") < advice.index("Övriga områden: normalläge")
    assert "Rapportera med /rapport – även lugnt räknas (/lugnt)." in shown
    # Aggregates only: no free text, no names, no level reasons.
    assert seeded.texts_with_names > 0
    assert SECRET_TEXT not in text and "Anna Andersson" not in text
    for name in (*REPORTER_NAMES, "Karin"):
        assert name not in text
    assert "Skäl för" not in text


async def test_briefing_counts_only_förmedlade_reports_and_names_only_known_places(
        services, config):
    async with services.db.session() as session:
        member = await add_member(session, telegram_user_id=7300, first_name="Sara",
                                  role="reporter", org_key="securitas", now=FRIDAY)
        for hours in (2, 5, 9):
            # A hotspot at a typed place: the reporter's words stay out of the briefing.
            await add_report(session, member, area="oxhagen", at=FRIDAY - timedelta(hours=hours),
                             categories=["stenkastning"], place_name="Bakom Sara Svenssons hus",
                             severity=4, text="Sara Svensson såg allt")
        await add_report(session, member, area="centrum", at=FRIDAY - timedelta(hours=3),
                         categories=["bilbrand"], place_key="cen_stortorget", severity=4,
                         sharing="egen")
        await session.commit()
    shown = visible((await compose_briefing(services, FRIDAY)).texts[0])
    assert "🔥 Annan plats (Oxhagen) – 3 rapporter om problem senaste veckan" in shown
    assert "Svensson" not in shown and "Sara" not in shown
    assert "3 rapporter om problem senaste veckan (veckan före 0)" in shown
    assert "Stortorget" not in shown  # the egen report is not counted or named


async def test_briefing_on_halloween_weekend_names_the_risk_days(services, config):
    halloween_friday = datetime(2026, 10, 30, 18, 0, tzinfo=UTC)  # 19:00 CET
    async with services.db.session() as session:
        await record_level(session, area_key="varberga", level="gult", reason="Oro",
                           member_id=None, now=halloween_friday - timedelta(days=2))
        await session.commit()
    shown = visible((await compose_briefing(services, halloween_friday)).texts[0])
    assert "Halloween (lördag 31 oktober)" in shown
    assert "Höstlov (pågår)" in shown
    assert "🟡 Varberga – gult ⬆ var grönt" in shown
    assert "Varberga: gå i par, håll avstånd" in shown


async def test_quiet_weekend_briefing_is_still_useful(services):
    shown = visible((await compose_briefing(services, FRIDAY)).texts[0])
    assert "Inga särskilda platser eller händelser" in shown
    assert "• Inga ändrade lägen." in shown
    assert "Alla områden: normalläge" in shown
    assert "0 rapporter om problem senaste veckan (veckan före 0)" in shown


async def test_reminder_says_calm_counts(services):
    post = await compose_reminder(services, FRIDAY + timedelta(hours=4, minutes=30))
    assert post.texts == ["Hej! Inga rapporter från dig i kväll ännu – även lugnt räknas: "
                          "/lugnt\nHar du sett något? /rapport"]


def _brief(name: str, level: Level) -> AreaBrief:
    return AreaBrief(name.lower(), name, level, level, 0, 0)


def test_advice_follows_the_levels_most_urgent_first():
    advice = advice_for([_brief("Vivalla", Level.GUL), _brief("Oxhagen", Level.ROD),
                         _brief("Varberga", Level.GUL), _brief("Centrum", Level.ORANGE)])
    assert [(a.level, a.label) for a in advice] == [
        (Level.ROD, "Oxhagen"), (Level.GUL, "Vivalla, Varberga"), (Level.ORANGE, "Centrum")]
    assert "gå i par" in ADVICE[Level.GUL] and "rapportera tidigt" in ADVICE[Level.GUL]
    assert "följ polisens" in ADVICE[Level.ROD] and "undvik området" in ADVICE[Level.ROD]
    only_green = advice_for([_brief("Vivalla", Level.GRON)])
    assert [(a.level, a.label) for a in only_green] == [(Level.GRON, "Alla områden")]


def test_the_weekend_ends_on_monday_at_midnight_local(config):
    assert weekend_end(config, FRIDAY) == datetime(2026, 11, 30, tzinfo=config.tz)
    sunday = datetime(2026, 11, 29, 20, tzinfo=config.tz)
    assert weekend_end(config, sunday) == datetime(2026, 11, 30, tzinfo=config.tz)
