"""Members and roles (issue 8 §1) through the real Application and the fake Bot API.

An ended member is a stranger from the next update on; the last admin stays; an
invitation opened by a member changes nothing; a revoked invitation is dead; every
change is in the audit log.
"""

from __future__ import annotations

from sqlmodel import select

from storage.models import AuditEvent, Dialog, Invite, Member
from tests.conftest import invite_token, make_admin, registered
from tests.test_schedule import BRIEFING_JOB, FRIDAY_1900, briefings, job

REFUSAL = "Be din samordnare om en inbjudan"
ADMIN = 7001


async def admin(bot, fake):
    await make_admin(bot, ADMIN)
    person = bot.person(ADMIN, "Admin")
    await person.send("/start")
    return person


async def member_row(bot, user_id: int) -> Member:
    async with bot.services.db.session() as session:
        return (await session.exec(select(Member).where(Member.telegram_user_id == user_id))
                ).one()


async def audit_actions(bot) -> list[str]:
    async with bot.services.db.session() as session:
        return [e.action for e in (await session.exec(
            select(AuditEvent).order_by(AuditEvent.id))).all()]


async def toast(bot, fake, person, label: str) -> str:
    """Press a button and return what the bot answered on the button itself."""
    query = fake.click(person.user_id, person.last_with_buttons, label)
    await bot.settle()
    return (fake.callback_answer(query["id"]) or {}).get("text", "")


async def open_member(person, name_with_role: str):
    await person.send("/medlemmar")
    return await person.click(name_with_role)


async def test_an_ended_member_is_a_stranger_at_once(bot, fake, clock):
    boss = await admin(bot, fake)
    anna = await registered(bot, 7101, "Anna")
    await anna.send("/rapport")
    old_report_dialog = anna.last_with_buttons

    card = await open_member(boss, "Anna (rapportör)")
    assert "Anna" in card["text"] and "Nattvandrarna" in card["text"]
    confirm = await boss.click("Avsluta medlemskap")
    assert "allmänna handlingar" in confirm["text"] and "ny inbjudan" in confirm["text"]
    done = await boss.click("Ja, avsluta medlemskapet")
    assert "Medlemskapet för Anna är avslutat" in done["text"]

    assert REFUSAL in (await anna.send("/rapport"))["text"]
    before = len(fake.bot_messages(7101))
    await anna.click("Vivalla", old_report_dialog)
    assert len(fake.bot_messages(7101)) == before  # nothing new ...
    [shown] = [m for m in fake.bot_messages(7101)
               if m["message_id"] == old_report_dialog["message_id"]]
    assert shown["text"] == old_report_dialog["text"]  # ... nor edited
    assert fake.unanswered_callback_queries() == []  # the press was answered
    async with bot.services.db.session() as session:
        dialogs = (await session.exec(select(Dialog))).all()
    assert {d.status for d in dialogs if d.kind == "report"} == {"cancelled"}

    clock.now = FRIDAY_1900
    await job(bot, BRIEFING_JOB).run(bot.application)
    assert briefings(fake, 7101) == 0
    assert "member.ended" in await audit_actions(bot)


async def test_the_last_admin_can_neither_be_demoted_nor_removed_nor_leave(bot, fake):
    boss = await admin(bot, fake)
    await open_member(boss, "Admin (admin)")
    await boss.click("Byt roll")
    assert "skulle stå utan administratör" in await toast(bot, fake, boss, "Rapportör")
    assert (await member_row(bot, ADMIN)).role == "admin"
    await boss.click("◀ Tillbaka")
    await boss.click("Avsluta medlemskap")
    assert "skulle stå utan administratör" in await toast(bot, fake, boss,
                                                          "Ja, avsluta medlemskapet")
    await boss.send("/avsluta")
    assert "enda administratören" in await toast(bot, fake, boss,
                                                 "Ja, avsluta mitt medlemskap")
    assert (await member_row(bot, ADMIN)).ended_at is None
    assert "member.role" not in await audit_actions(bot)


async def test_an_admin_opening_a_reporter_invitation_stays_admin(bot, fake):
    boss = await admin(bot, fake)
    token = await invite_token(bot, "reporter", "nattvandrarna")
    answer = await boss.send(f"/start {token}")
    assert "Du är redan medlem: admin" in answer["text"]
    assert "Fråga en administratör" in answer["text"]
    assert (await member_row(bot, ADMIN)).role == "admin"
    bert = bot.person(7102, "Bert")
    welcome = await bert.send(f"/start {token}")
    assert "Välkommen, Bert" in welcome["text"]


async def test_an_invitation_revoked_in_chat_no_longer_works(bot, fake):
    boss = await admin(bot, fake)
    token = await invite_token(bot, "coordinator", "polisen")
    await boss.send("/medlemmar")
    listing = await boss.click("📨 Öppna inbjudningar")
    assert "samordnare, Polisen" in listing["text"]
    revoked = await boss.click("Återkalla 1")
    assert "återkallad" in revoked["text"]
    cilla = bot.person(7103, "Cilla")
    assert "återkallats" in (await cilla.send(f"/start {token}"))["text"]
    async with bot.services.db.session() as session:
        [invite] = (await session.exec(select(Invite))).all()
    assert invite.used_at is None and invite.revoked_at is not None
    assert "invite.revoked" in await audit_actions(bot)


async def test_role_and_organisation_changes_are_made_and_logged(bot, fake):
    boss = await admin(bot, fake)
    await registered(bot, 7104, "Dora")
    await open_member(boss, "Dora (rapportör)")
    await boss.click("Byt roll")
    changed = await boss.click("Samordnare")
    assert "Dora är nu samordnare" in changed["text"]
    await boss.click("Byt organisation")
    moved = await boss.click("Fältgruppen Örebro kommun")
    assert "Dora hör nu till Fältgruppen Örebro kommun" in moved["text"]
    dora = await member_row(bot, 7104)
    assert (dora.role, dora.org_key) == ("coordinator", "faltgruppen")
    log = await boss.send("/logg")
    assert "ändrade rollen för Dora: rapportör → samordnare" in log["text"]
    assert "flyttade Dora: Nattvandrarna Örebro → Fältgruppen Örebro kommun" in log["text"]


async def test_coordinators_see_their_own_organisation_read_only(bot, fake):
    await admin(bot, fake)
    await registered(bot, 7105, "Erik", org_key="polisen")
    await registered(bot, 7106, "Frida", org_key="faltgruppen")
    greta = await registered(bot, 7107, "Greta", role="coordinator", org_key="polisen")
    listing = await greta.send("/medlemmar")
    assert "Erik" in listing["text"] and "Frida" not in listing["text"]
    assert "Bara administratörer" in listing["text"]
    labels = [b["text"] for row in listing["reply_markup"]["inline_keyboard"] for b in row]
    assert not any("Erik" in label for label in labels)
    reporter = bot.person(7105, "Erik")
    assert "samordnare" in (await reporter.send("/medlemmar"))["text"]


async def test_a_member_leaves_by_themselves_and_their_name_is_erased(bot, fake):
    await admin(bot, fake)
    hanna = await registered(bot, 7108, "Hanna")
    confirm = await hanna.send("/avsluta")
    assert "Ditt Telegram-namn raderas" in confirm["text"]
    assert "avslutat" in (await hanna.click("Ja, avsluta mitt medlemskap"))["text"]
    row = await member_row(bot, 7108)
    assert row.ended_at is not None and row.first_name == "Avslutad medlem"
    assert REFUSAL in (await hanna.send("/hjalp"))["text"]
    token = await invite_token(bot, "reporter", "nattvandrarna")
    assert "Välkommen, Hanna" in (await hanna.send(f"/start {token}"))["text"]


async def test_mina_uppgifter_says_what_is_stored_and_when_it_goes(bot, fake):
    await admin(bot, fake)
    ivar = await registered(bot, 7109, "Ivar")
    extract = (await ivar.send("/mina_uppgifter"))["text"]
    assert "registerutdrag" in extract and "Telegram-id: 7109" in extract
    assert "Fritexten i en rapport: efter 90 dagar" in extract
    assert "Kopplingen mellan en rapport och dig: efter 365 dagar" in extract
    assert "Rapporten själv: efter 1095 dagar" in extract
