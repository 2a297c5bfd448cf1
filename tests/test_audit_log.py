"""The audit log records what a kommun must be able to explain, never free text."""

from __future__ import annotations

from sqlmodel import select

from storage.models import AuditEvent
from tests.conftest import make_admin, registered
from tests.test_levels_bot import coordinator_group

REASON = "Stenkastning mot bussar två kvällar i rad"


async def events(bot) -> list[AuditEvent]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all())


async def test_level_changes_and_group_registrations_are_logged_without_the_reason(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 7201, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva vivalla")
    await per.click("🟡 Gult läge")
    await per.send(REASON)
    rows = await events(bot)
    actions = [e.action for e in rows]
    assert "group.registered" in actions and "level.changed" in actions
    [level] = [e for e in rows if e.action == "level.changed"]
    assert (level.object_id, level.details["to"]) == ("vivalla", "gult")
    assert all(REASON not in str(e.details) for e in rows)

    await make_admin(bot, 7202)
    boss = bot.person(7202, "Admin")
    shown = await boss.send("/logg")
    assert "Per · ändrade läget i Vivalla: grönt → gult" in shown["text"]
    assert "registrerade en grupp (samordningsgrupp)" in shown["text"]
    assert REASON not in shown["text"]


async def test_only_admins_read_the_log(bot, fake):
    per = await registered(bot, 7203, "Per", role="coordinator", org_key="kommunen")
    assert "administratörer" in (await per.send("/logg"))["text"]
