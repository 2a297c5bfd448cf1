"""Levels per area (/niva) and the alerts built on the analysis, through the fake Telegram."""

import json
from datetime import timedelta

from sqlmodel import col, select

from bot.features.levels.alerts import announce_level, evaluate_area
from est.analysis import rules_for, suggest_level
from est.levels import Level
from storage import outbox
from storage.facts import report_facts
from storage.levels import record_level
from storage.models import (
    Alert,
    AlertMessage,
    AreaLevel,
    Broadcast,
    Checklist,
    Delivery,
    Group,
    Member,
)
from tests.conftest import file_report, make_admin, registered

GROUP, OTHER_GROUP = -4001, -4002
SKADA, STEN, HOT = "☐ Skadegörelse", "☐ Stenkastning", "☐ Hot/våld mot personal"
SERIOUS = "3 – Allvarligt"


async def coordinator_group(bot, fake, chat_id: int = GROUP, admin_uid: int = 5000):
    """A coordinator group registered by an admin, as in the README."""
    async with bot.services.db.session() as session:
        known = (await session.exec(
            select(Member).where(Member.telegram_user_id == admin_uid))).first()
    if known is None:
        await make_admin(bot, admin_uid)
        bot.person(admin_uid, "Karin")
    fake.create_group(chat_id, f"Samordnare {chat_id}")
    fake.add_bot_to_group(chat_id, admin_uid)
    await bot.settle()
    fake.send_text(admin_uid, "/registrera_grupp", chat_id=chat_id)
    await bot.settle()
    assert "registrerad" in fake.last_bot_message(chat_id)["text"]


async def report(person, **choices):
    await file_report(person, **choices)


async def suggestion_now(bot, area_key: str):
    """What est.analysis says about the stored reports: the test computes, never guesses."""
    services = bot.services
    rules = rules_for(services.config)
    now = services.now()
    async with services.db.session() as session:
        rows = await report_facts(session, since=now - timedelta(days=rules.window_days),
                                  until=now + timedelta(seconds=1), area_key=area_key)
    return suggest_level(area_key, [f for f, _ in rows], services.config, now, None, rules)


def alert_posts(fake, chat_id: int = GROUP) -> list[dict]:
    return [m for m in fake.bot_messages(chat_id) if "Förslag:" in m.get("text", "")
            or "förslaget" in m.get("text", "").lower() or "höjt till" in m.get("text", "")]


async def rows(bot, model, *where):
    async with bot.services.db.session() as session:
        query = select(model)
        for clause in where:
            query = query.where(clause)
        return list((await session.exec(query.order_by(col(model.id)))).all())


def menu_dialog_id(message: dict) -> int:
    """The dialog a bot message's buttons belong to (``d:<id>:…``), to forge presses."""
    data = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    return int(data.split(":")[1])


def texts_since(fake, chat_id: int, before: int) -> list[str]:
    return [m.get("text", "") for m in fake.bot_messages(chat_id)[before:]]


async def test_two_orgs_raise_alert_only_coordinators_decide_and_field_is_told(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 2001, "Per", role="coordinator", org_key="kommunen")
    anna = await registered(bot, 2002, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2003, "Bo", org_key="securitas")
    cecilia = await registered(bot, 2004, "Cecilia", org_key="obo")  # ÖBO: not in Centrum
    dan = await registered(bot, 2005, "Dan", org_key="nattvandrarna")
    await dan.send("/paus")
    erik = await registered(bot, 2006, "Erik", org_key="faltgruppen")
    fake.block_bot(2006)  # Erik blocked the bot: a 403 when told, marked inactive

    await report(anna, area="Centrum", place="Stortorget")
    assert alert_posts(fake) == []  # one organisation, one report: below gult
    await report(bo, area="Centrum", place="Stortorget")
    suggestion = await suggestion_now(bot, "centrum")
    assert suggestion.level == Level.GUL

    [alert_message] = alert_posts(fake)
    text = alert_message["text"]
    assert "Förslag: Gult läge i Centrum" in text
    assert "2 rapporter senaste 3 dygnen (skadegörelse)" in text
    assert "2 organisationer har rapporterat problem i området" in text
    assert "Anna" not in text and "Bo" not in text and "Nattvandrarna" not in text
    assert fake.buttons(alert_message, chat_id=GROUP) == ["Höj till gult", "Behåll"]

    # A reporter, and someone who is no member at all, press in the group: refused.
    for uid in (2002, 7777):
        fake.user(uid, "Någon")
        query = fake.click(uid, alert_message, "Höj till gult", chat_id=GROUP)
        await bot.settle()
        assert fake.callback_answer(query["id"])["text"] == "Bara samordnare kan besluta."
    assert await rows(bot, AreaLevel) == []
    [alert] = await rows(bot, Alert)
    assert alert.status == "open" and alert.decided_by_member_id is None

    private_before = {uid: len(fake.bot_messages(uid)) for uid in (2002, 2003, 2004, 2005)}
    group_before = len(fake.bot_messages(GROUP))
    query = fake.click(2001, alert_message, "Höj till gult", chat_id=GROUP)
    await bot.settle()
    assert fake.callback_answer(query["id"]) is not None

    [level] = await rows(bot, AreaLevel)
    [per_member] = await rows(bot, Member, Member.telegram_user_id == 2001)
    assert (level.area_key, level.level, level.set_by_member_id) == ("centrum", "gult",
                                                                     per_member.id)
    assert level.reason.startswith("Förslag: 2 rapporter") and "Per (Örebro kommun)" in level.reason
    assert level.set_at == bot.clock() and level.alert_id == alert.id
    [alert] = await rows(bot, Alert)
    assert (alert.status, alert.decided_by_member_id, alert.decided_at) == (
        "raised", per_member.id, bot.clock())

    edited = next(m for m in fake.bot_messages(GROUP)
                  if m["message_id"] == alert_message["message_id"])
    assert "Centrum: höjt till gult läge" in edited["text"]
    assert "Per (Örebro kommun)" in edited["text"]
    assert not edited.get("reply_markup")
    # The change itself is pushed too: an edit alone notifies nobody.
    [announcement] = texts_since(fake, GROUP, group_before)
    assert "Centrum: Gult läge" in announcement

    told = {uid: texts_since(fake, uid, private_before[uid]) for uid in private_before}
    for uid in (2002, 2003):  # field members of organisations working in Centrum
        [notice] = told[uid]
        assert "Gult läge i Centrum" in notice
        assert "Förslag" not in notice and "Skadegörelse" not in notice  # no details
    assert told[2004] == [] and told[2005] == []  # ÖBO is not in Centrum; Dan is paused
    [erik_member] = await rows(bot, Member, Member.telegram_user_id == 2006)
    assert erik_member.active is False

    # A second press (say, another coordinator at the same time) changes nothing.
    query = fake.click_data(2001, alert_message, f"al:{alert.id}:k", chat_id=GROUP)
    await bot.settle()
    assert "redan" in fake.callback_answer(query["id"])["text"]
    assert len(await rows(bot, AreaLevel)) == 1
    assert per is not None and cecilia is not None and erik is not None


async def test_burst_updates_one_alert_and_cooldown_after_keep(bot, fake, clock):
    await coordinator_group(bot, fake)
    await registered(bot, 2101, "Per", role="coordinator", org_key="polisen")
    anna = await registered(bot, 2102, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2103, "Bo", org_key="faltgruppen")

    await report(anna)
    await report(bo)
    await report(anna)
    assert (await suggestion_now(bot, "vivalla")).level == Level.GUL
    [post] = alert_posts(fake)
    assert "3 rapporter" in post["text"]
    assert fake.buttons(post, chat_id=GROUP) == ["Höj till gult", "Behåll"]

    await report(bo)
    assert (await suggestion_now(bot, "vivalla")).level == Level.ROD
    [post] = alert_posts(fake)  # still one message, edited
    assert "Förslag: Rött läge i Vivalla" in post["text"] and "4 rapporter" in post["text"]
    assert fake.buttons(post, chat_id=GROUP) == ["Höj till rött", "Behåll"]
    assert [a.kind for a in await rows(bot, Alert)] == ["suggestion"]
    assert len(await rows(bot, AlertMessage)) == 1

    fake.click(2101, post, "Behåll", chat_id=GROUP)
    await bot.settle()
    [post] = alert_posts(fake)
    assert "Vivalla: läget behålls" in post["text"] and not post.get("reply_markup")
    assert await rows(bot, AreaLevel) == []

    # The same suggestion is not alerted again within the cooldown (12 h) …
    clock.advance(hours=6)
    await report(anna)
    assert len(alert_posts(fake)) == 1
    # … but is once it has passed.
    clock.advance(hours=7)
    await report(bo)
    assert len(alert_posts(fake)) == 2
    assert [a.status for a in await rows(bot, Alert)] == ["kept", "open"]


async def test_niva_in_group_with_reason_pushes_everywhere(bot, fake):
    await coordinator_group(bot, fake)
    await coordinator_group(bot, fake, OTHER_GROUP)
    await registered(bot, 2201, "Per", role="coordinator", org_key="polisen")
    anna = await registered(bot, 2202, "Anna", org_key="nattvandrarna")

    # A reporter gets a Swedish refusal, in the group and in private.
    fake.send_text(2202, "/niva", chat_id=GROUP)
    await bot.settle()
    assert "Bara samordnare kan ändra läge" in fake.last_bot_message(GROUP)["text"]
    assert "Bara samordnare" in (await anna.send("/niva"))["text"]

    fake.send_text(2201, "/niva", chat_id=GROUP)
    await bot.settle()
    menu = fake.last_bot_message(GROUP)
    assert "🟢 Vivalla" in fake.buttons(menu, chat_id=GROUP)
    # A reporter pressing the coordinator's buttons is refused: the dialog is his.
    query = fake.click(2202, menu, "🟢 Vivalla", chat_id=GROUP)
    await bot.settle()
    assert "någon annans dialog" in fake.callback_answer(query["id"])["text"]

    fake.click(2201, menu, "🟢 Vivalla", chat_id=GROUP)
    await bot.settle()
    menu = fake.last_bot_message(GROUP)
    assert "Vivalla – nu 🟢 Grönt läge" in menu["text"]
    assert fake.buttons(menu, chat_id=GROUP) == [
        "🟡 Gult läge", "🟠 Orange läge", "🔴 Rött läge", "📜 Historik", "◀ Tillbaka",
        "✖ Avbryt"]
    fake.click(2201, menu, "🟡 Gult läge", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    assert "✍ Skäl till Gult läge i Vivalla?" in prompt["text"]
    [sent] = [params for name, params in fake.calls
              if name == "sendMessage" and "✍ Skäl" in str(params.get("text", ""))]
    markup = sent["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["force_reply"] is True and markup["selective"] is True

    # Nothing is stored before the reason; a reporter's reply or a too short one is refused.
    fake.send_text(2202, "Jag tycker gult", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    assert "någon annans dialog" in fake.last_bot_message(GROUP)["text"]
    fake.send_text(2201, "ok", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    assert "Skriv ett skäl" in fake.last_bot_message(GROUP)["text"]
    assert await rows(bot, AreaLevel) == []

    anna_before = len(fake.bot_messages(2202))
    other_before = len(fake.bot_messages(OTHER_GROUP))
    await bot.restart()  # the pending choice lives in the dialog row: a restart loses nothing
    fake.send_text(2201, "Rykten om samling vid torget på fredag", chat_id=GROUP,
                   reply_to=prompt["message_id"])
    await bot.settle()
    [level] = await rows(bot, AreaLevel)
    assert (level.area_key, level.level, level.reason) == (
        "vivalla", "gult", "Rykten om samling vid torget på fredag")
    answer_here = fake.last_bot_message(GROUP)["text"]
    assert "Vivalla: Gult läge" in answer_here and "Per (Polisen" in answer_here
    [pushed] = texts_since(fake, OTHER_GROUP, other_before)
    assert "Vivalla: Gult läge" in pushed and "Rykten om samling" in pushed
    [notice] = texts_since(fake, 2202, anna_before)
    assert "Gult läge i Vivalla" in notice and "Rykten" not in notice

    # Replying to the same prompt again (or a redelivered update) changes nothing, and
    # pushes nothing twice: the groups and the field already got this change.
    fake.send_text(2201, "Rykten om samling vid torget på fredag", chat_id=GROUP,
                   reply_to=prompt["message_id"])
    await bot.settle()
    assert len(await rows(bot, AreaLevel)) == 1
    assert len(texts_since(fake, OTHER_GROUP, other_before)) == 1
    assert len(texts_since(fake, 2202, anna_before)) == 1
    assert sum("Vivalla: Gult läge" in t for t in texts_since(fake, GROUP, 0)) == 1

    fake.send_text(2201, "/niva historik vivalla", chat_id=GROUP)
    await bot.settle()
    history = fake.last_bot_message(GROUP)["text"]
    assert "Historik – Vivalla" in history and "Nu: 🟡 Gult läge" in history
    assert "Rykten om samling vid torget på fredag" in history and "Per (Polisen" in history


async def test_red_to_green_is_refused_with_an_explanation(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 2301, "Per", role="coordinator", org_key="kommunen")
    async with bot.services.db.session() as session:
        await record_level(session, area_key="vivalla", level="gult", reason="Oro",
                           member_id=None, now=bot.clock())
        await session.commit()

    # A prompt for grönt is asked while the area is gult …
    fake.send_text(2301, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    menu = fake.last_bot_message(GROUP)
    fake.click(2301, menu, "🟢 Grönt läge", chat_id=GROUP)
    await bot.settle()
    stale_prompt = fake.last_bot_message(GROUP)
    assert "✍ Skäl till Grönt läge i Vivalla?" in stale_prompt["text"]

    # … then it turns red.
    async with bot.services.db.session() as session:
        await record_level(session, area_key="vivalla", level="rött", reason="Bränder",
                           member_id=None, now=bot.clock())
        await session.commit()

    # (A new /niva in the group would end the open one there; Per looks in private.)
    menu = await per.send("/niva vivalla")
    assert "🟢 Grönt läge" not in per.buttons(menu)
    assert "Från rött läge går man via orange läge (efterarbete) till grönt" in menu["text"]

    # A forged press and the stale prompt are both refused with the explanation.
    dialog_id = menu_dialog_id(menu)
    query = fake.click_data(2301, menu, f"d:{dialog_id}:l:GRON")
    await bot.settle()
    assert "Från rött läge går man via orange läge" in fake.callback_answer(query["id"])["text"]
    fake.send_text(2301, "Lugnt igen", chat_id=GROUP, reply_to=stale_prompt["message_id"])
    await bot.settle()
    assert "Från rött läge går man via orange läge" in fake.last_bot_message(GROUP)["text"]
    assert [r.level for r in await rows(bot, AreaLevel)] == ["gult", "rött"]


async def test_niva_full_flow_in_private_chat(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 2401, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva")
    await per.click("🟢 Oxhagen")
    await per.click("🔴 Rött läge")
    prompt = per.last
    assert prompt["text"].startswith("✍ Skäl till Rött läge i Oxhagen?")
    fake.send_text(2401, "Bilbränder och stenkastning mot räddningstjänsten",
                   reply_to=prompt["message_id"])
    await bot.settle()
    assert "Sparat: Oxhagen har nu rött läge" in per.last["text"]
    [level] = await rows(bot, AreaLevel)
    assert (level.area_key, level.level) == ("oxhagen", "rött")
    assert "Oxhagen: Rött läge" in fake.last_bot_message(GROUP)["text"]


async def test_urgent_report_alerts_at_once_without_identity_or_free_text(bot, fake):
    await coordinator_group(bot, fake)
    per = await registered(bot, 2501, "Per", role="coordinator", org_key="securitas")
    lisa = await registered(bot, 2502, "Lisa", role="coordinator", org_key="kommunen")
    anna = await registered(bot, 2503, "Anna", org_key="securitas")

    before = len(fake.bot_messages(GROUP))
    await report(anna, category=HOT, severity="2 – Märkbart",
                 text="Två väktare hotades vid entrén")
    [urgent] = texts_since(fake, GROUP, before)
    assert "🚨 Akut: Hot/våld mot personal" in urgent
    assert "Vivalla · Vivallaskolan" in urgent and "20 nov. 21:00" in urgent
    assert "R-2026-000001" in urgent
    assert "Anna" not in urgent and "Securitas" not in urgent
    assert "hotades" not in urgent  # free text stays out of groups by default
    [alert] = await rows(bot, Alert)
    assert (alert.kind, alert.status, alert.report_ids) == ("urgent", "info", [1])

    # An egen urgent report goes privately to the own organisation's coordinators only.
    per_before, lisa_before = len(fake.bot_messages(2501)), len(fake.bot_messages(2502))
    await report(anna, category=HOT, sharing="Bara min organisation")
    assert len(fake.bot_messages(GROUP)) == before + 1
    [private] = texts_since(fake, 2501, per_before)
    assert "🚨 Akut: Hot/våld mot personal" in private and "egen rapport" in private
    assert texts_since(fake, 2502, lisa_before) == []
    assert per is not None and lisa is not None


async def test_checklist_alone_can_raise_a_suggestion(bot, fake):
    """evaluate_area, as the checklist calls it after completion: no report needed."""
    await coordinator_group(bot, fake)
    await registered(bot, 2601, "Per", role="coordinator", org_key="kommunen")
    async with bot.services.db.session() as session:
        [per] = (await session.exec(select(Member).where(Member.telegram_user_id == 2601))).all()
        session.add(Checklist(area_key="baronbackarna", member_id=per.id, status="done",
                              answers={str(n): 4 for n in range(1, 21)},
                              created_at=bot.clock(), updated_at=bot.clock(),
                              completed_at=bot.clock()))
        await session.commit()
    await evaluate_area(bot.services, bot.application.bot, "baronbackarna")
    [post] = alert_posts(fake)
    assert "Förslag: Gult läge i Baronbackarna" in post["text"]
    assert "Checklistan visar starka varningssignaler (100 %)" in post["text"]


async def test_niva_change_closes_the_open_suggestion_it_meets(bot, fake):
    await coordinator_group(bot, fake)
    await registered(bot, 2701, "Per", role="coordinator", org_key="kommunen")
    anna = await registered(bot, 2702, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 2703, "Bo", org_key="faltgruppen")
    await report(anna)
    await report(bo)
    [post] = alert_posts(fake)
    assert fake.buttons(post, chat_id=GROUP) == ["Höj till gult", "Behåll"]

    fake.send_text(2701, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    fake.click(2701, fake.last_bot_message(GROUP), "🔴 Rött läge", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    fake.send_text(2701, "Stenkastning mot bussar i kväll", chat_id=GROUP,
                   reply_to=prompt["message_id"])
    await bot.settle()

    post = next(m for m in fake.bot_messages(GROUP) if m["message_id"] == post["message_id"])
    assert "förslaget om gult läge är avslutat" in post["text"]
    assert "Läget ändrades till rött läge" in post["text"] and "Per (Örebro kommun)" in post["text"]
    assert not post.get("reply_markup")
    [alert] = await rows(bot, Alert)
    assert alert.status == "closed"
    # A late press on the closed alert changes nothing.
    query = fake.click_data(2701, post, f"al:{alert.id}:r", chat_id=GROUP)
    await bot.settle()
    assert "redan" in fake.callback_answer(query["id"])["text"]
    assert [r.level for r in await rows(bot, AreaLevel)] == ["rött"]


async def change_level(bot, area_key: str, level: str, reason: str) -> AreaLevel:
    async with bot.services.db.session() as session:
        row = await record_level(session, area_key=area_key, level=level, reason=reason,
                                 member_id=None, now=bot.clock())
        await session.commit()
        return row


async def push(bot, row: AreaLevel, old: Level = Level.GRON) -> None:
    await announce_level(bot.services, bot.application.bot, level_id=row.id,
                         area_key=row.area_key, old=old, new=Level(row.level), reason=row.reason,
                         decided_by="Per (Polisen)", at=row.set_at)
    await bot.settle()


def count(fake, chat_id: int, needle: str) -> int:
    return sum(needle in t for t in texts_since(fake, chat_id, 0))


async def test_a_level_change_pushed_again_reaches_each_group_and_member_once(bot, fake):
    await coordinator_group(bot, fake)
    await coordinator_group(bot, fake, OTHER_GROUP)
    await registered(bot, 2801, "Anna", org_key="nattvandrarna")
    await registered(bot, 2802, "Bo", org_key="faltgruppen")
    row = await change_level(bot, "vivalla", "gult", "Oro inför helgen")

    await push(bot, row)
    await bot.restart()  # as if the push ran again after a restart
    await push(bot, row)
    for chat_id in (GROUP, OTHER_GROUP):
        assert count(fake, chat_id, "Vivalla: Gult läge") == 1
    for uid in (2801, 2802):
        assert count(fake, uid, "Gult läge i Vivalla") == 1
    [group_push] = await rows(bot, Broadcast, Broadcast.kind == "level")
    [field_push] = await rows(bot, Broadcast, Broadcast.kind == "level_field")
    assert group_push.period == field_push.period == str(row.id)
    for broadcast, chats in ((group_push, {GROUP, OTHER_GROUP}), (field_push, {2801, 2802})):
        done = await rows(bot, Delivery, Delivery.broadcast_id == broadcast.id)
        assert {d.chat_id for d in done} == chats
        assert {d.status for d in done} == {outbox.SENT}

    # A later change is a new push: everyone hears about it.
    orange = await change_level(bot, "vivalla", "orange", "Efterarbete")
    await push(bot, orange, Level.GUL)
    assert count(fake, OTHER_GROUP, "Vivalla: Orange läge") == 1
    assert count(fake, 2801, "Orange läge i Vivalla") == 1


async def test_a_field_member_who_blocked_the_bot_is_marked_inactive_on_a_level_push(bot,
                                                                                     fake):
    await coordinator_group(bot, fake)  # admin 5000 registers it …
    fake.send_text(5000, "/start")  # … and can be written to in private
    await bot.settle()
    await registered(bot, 2901, "Anna", org_key="nattvandrarna")
    await registered(bot, 2902, "Bo", org_key="faltgruppen")
    fake.block_bot(2902)
    await bot.settle()  # Telegram's my_chat_member update about the block is handled first
    admin_before = len(fake.bot_messages(5000))
    row = await change_level(bot, "vivalla", "rött", "Bränder")

    await push(bot, row)
    [anna, bo] = await rows(bot, Member, col(Member.telegram_user_id).in_([2901, 2902]))
    assert (anna.active, bo.active) == (True, False)
    assert count(fake, 2901, "Rött läge i Vivalla") == 1
    [field_push] = await rows(bot, Broadcast, Broadcast.kind == "level_field")
    statuses = {d.chat_id: d.status
                for d in await rows(bot, Delivery, Delivery.broadcast_id == field_push.id)}
    assert statuses == {2901: outbox.SENT, 2902: outbox.BLOCKED}
    [notice] = texts_since(fake, 5000, admin_before)
    assert "kunde inte nå 1 mottagare" in notice and "Bo" in notice

    # Pushed again: Bo is not tried again, and the admins are not told twice.
    calls = len(fake.calls)
    await push(bot, row)
    assert [c for c in fake.calls[calls:] if c[0] == "sendMessage"] == []
    assert len(fake.bot_messages(5000)) == admin_before + 1


async def test_an_alert_to_a_group_upgraded_to_a_supergroup_lands_under_its_new_id(bot, fake):
    await coordinator_group(bot, fake)
    await registered(bot, 3001, "Per", role="coordinator", org_key="polisen")
    anna = await registered(bot, 3002, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, 3003, "Bo", org_key="faltgruppen")
    new_id = -1001234564001
    fake.inject("sendMessage", "chat_migrated", chat_id=GROUP, migrate_to=new_id)

    await report(anna)
    await report(bo)
    [post] = alert_posts(fake, new_id)
    assert "Förslag: Gult läge i Vivalla" in post["text"]
    [group] = await rows(bot, Group)
    assert group.chat_id == new_id and group.active
    [alert] = await rows(bot, Alert)
    [message] = await rows(bot, AlertMessage)
    assert (message.alert_id, message.chat_id, message.message_id) == (
        alert.id, new_id, post["message_id"])
    [sent] = await rows(bot, Delivery)
    assert (sent.chat_id, sent.status) == (new_id, outbox.SENT)

    # The burst edits that message in the supergroup; nothing is posted a second time.
    await report(anna)
    await report(bo)
    [post] = alert_posts(fake, new_id)
    assert "Förslag: Rött läge i Vivalla" in post["text"]
    assert len(await rows(bot, AlertMessage)) == 1
    fake.click(3001, post, "Höj till rött", chat_id=new_id)
    await bot.settle()
    [level] = await rows(bot, AreaLevel)
    assert level.level == "rött"
    assert count(fake, new_id, "Vivalla: Rött läge") == 1
