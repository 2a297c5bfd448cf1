"""/checklista through the fake Telegram: Bilaga 3 scored with buttons, saved on every press."""

from datetime import UTC, datetime

from sqlmodel import select

import bot.features.levels.alerts as alerts
from bot.features.checklist.dialog import RESTART, RESUME, SAVE_LATER
from est.checklist import (
    GROUPS,
    STATEMENTS,
    ChecklistScore,
    scale_label,
    signal_strength,
    statement,
    strongest_signals,
)
from messages import labels
from storage.levels import latest_checklist_strength
from storage.models import Checklist, Member
from tests.conftest import registered

# A spread of answers with strong signals at 9 and 13 (4) and 8, 12 (3).
ANSWERS = {n: 1 for n in range(1, 21)} | {2: 2, 5: 2, 8: 3, 9: 4, 12: 3, 13: 4, 18: 2, 20: 3}
GROUP_OF = {s.number: g.title for g in GROUPS for s in g.statements}


async def coordinator(bot, user_id=3001, name="Kim", org_key="kommunen"):
    return await registered(bot, user_id, name, role="coordinator", org_key=org_key)


async def rows(bot) -> list[Checklist]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Checklist).order_by(Checklist.id))).all())


async def answer_statements(person, numbers, answers=ANSWERS):
    """Answer each statement in turn, checking the dialog shows exactly that statement."""
    for number in numbers:
        shown = person.last_with_buttons
        assert f"Påstående {number} av 20" in shown["text"]
        assert statement(number).text in shown["text"]
        assert GROUP_OF[number] in shown["text"]
        await person.click(scale_label(answers[number]))


def callback_answers(bot) -> list[str]:
    return [c.get("text") for m, c in bot.fake.calls if m == "answerCallbackQuery"]


def dialog_id(message) -> int:
    """The dialog a message's buttons drive: ``d:<id>:…`` in their callback data."""
    data = message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    prefix, id_text, *_ = data.split(":")
    assert prefix == "d"
    return int(id_text)


async def test_coordinator_completes_all_twenty(bot, monkeypatch):
    evaluated = []

    async def evaluate_area(services, telegram_bot, area_key):
        async with services.db.session() as session:
            evaluated.append((area_key, await latest_checklist_strength(session, area_key)))

    monkeypatch.setattr(alerts, "evaluate_area", evaluate_area, raising=False)
    kim = await coordinator(bot)
    chooser = await kim.send("/checklista")
    assert "Välj område" in chooser["text"]
    assert "Vivalla" in kim.buttons()
    first = await kim.click("Vivalla")
    assert "Polis och andra aktörer" in first["text"]
    assert kim.buttons()[:4] == ["1 – stämmer inte alls", "2", "3", "4 – stämmer mycket bra"]
    assert labels.BACK not in kim.buttons()  # nothing before statement 1
    assert SAVE_LATER in kim.buttons() and labels.CANCEL in kim.buttons()

    await answer_statements(kim, [s.number for s in STATEMENTS])

    done = kim.last
    assert "är klar" in done["text"]
    assert f"Summa: {sum(ANSWERS.values())} av 80" in done["text"]
    for strong, _ in strongest_signals(ChecklistScore(ANSWERS)):
        assert strong.text in done["text"]
    assert "Har det förekommit anlagda bränder i området? (4 – stämmer mycket bra)" \
        in done["text"]
    assert not done.get("reply_markup")

    [row] = await rows(bot)
    assert (row.area_key, row.status, row.completed_at) == ("vivalla", "done", bot.clock())
    assert {int(k): v for k, v in row.answers.items()} == ANSWERS
    async with bot.services.db.session() as session:
        strength = await latest_checklist_strength(session, "vivalla")
    assert strength == signal_strength(ChecklistScore(ANSWERS)) > 0
    # The suggested level is recomputed once, with the new checklist already visible.
    assert evaluated == [("vivalla", strength)]
    assert bot.fake.unanswered_callback_queries() == []


async def test_save_half_done_restart_and_resume(bot):
    kim = await coordinator(bot)
    await kim.send("/checklista")
    await kim.click("Oxhagen")
    await answer_statements(kim, range(1, 8))
    saved = await kim.click(SAVE_LATER)
    assert "7 av 20" in saved["text"] and not saved.get("reply_markup")

    await bot.restart()
    chooser = await kim.send("/checklista")
    assert "Oxhagen (7 av 20)" in chooser["text"]
    offer = await kim.click("Oxhagen")
    assert "7 av 20 påståenden besvarade" in offer["text"]
    resumed = await kim.click(RESUME)
    assert "Påstående 8 av 20" in resumed["text"]
    assert "Tecken på oro" in resumed["text"]

    # Back to 7 shows the saved answer; changing it continues at the first open one.
    back = await kim.click(labels.BACK)
    assert statement(7).text in back["text"]
    assert "✓ " + scale_label(ANSWERS[7]) in kim.buttons()
    after = await kim.click("3")
    assert "Påstående 8 av 20" in after["text"]
    await answer_statements(kim, [8])

    [row] = await rows(bot)
    assert row.status == "draft" and row.completed_at is None
    assert {int(k): v for k, v in row.answers.items()} == {**{n: ANSWERS[n] for n in range(1, 9)},
                                                         7: 3}
    async with bot.services.db.session() as session:
        assert await latest_checklist_strength(session, "oxhagen") is None  # drafts don't count

    # "Börja om" replaces the draft with an empty one; the old one's buttons are dead.
    old_dialog = kim.last_with_buttons
    await kim.send("/checklista")
    await kim.click("Oxhagen")
    await kim.click(RESTART)  # asks first (issue 9)
    fresh = await kim.click("Ja, börja om")
    assert "Påstående 1 av 20 · 0 besvarade" in fresh["text"]
    old, new = await rows(bot)
    assert (old.status, new.status, new.answers) == ("cancelled", "draft", {})
    bot.fake.click(3001, old_dialog, "4 – stämmer mycket bra")
    await bot.settle()
    assert "avbruten eller ersatt" in callback_answers(bot)[-1]
    assert (await rows(bot))[0].answers == old.answers
    assert bot.fake.unanswered_callback_queries() == []


async def test_reporter_is_refused(bot):
    anna = await registered(bot, 3002, "Anna")
    reply = await anna.send("/checklista")
    assert "fylls i av samordnare" in reply["text"]
    assert not reply.get("reply_markup")
    # Nor do forged buttons get a reporter anywhere: a reporter has no checklist dialog,
    kim = await coordinator(bot)
    await kim.send("/checklista")
    chooser = dialog_id(kim.last_with_buttons)
    bot.fake.click_data(3002, reply, f"d:{chooser + 1}:a:vivalla")
    await bot.settle()
    assert "gäller inte längre" in callback_answers(bot)[-1]
    # and a coordinator's is not theirs.
    bot.fake.click_data(3002, reply, f"d:{chooser}:a:vivalla")
    await bot.settle()
    assert "någon annans" in callback_answers(bot)[-1]
    assert await rows(bot) == []


async def test_a_demoted_coordinator_cannot_go_on(bot):
    kim = await coordinator(bot)
    await kim.send("/checklista vivalla")
    await kim.click("2")
    async with bot.services.db.session() as session:
        member = (await session.exec(select(Member).where(
            Member.telegram_user_id == 3001))).one()
        member.role = "reporter"
        session.add(member)
        await session.commit()
    bot.fake.click(3001, kim.last_with_buttons, "3")
    await bot.settle()
    assert "till för samordnare" in callback_answers(bot)[-1]
    [row] = await rows(bot)
    assert (row.answers, row.status) == ({"1": 2}, "draft")


async def test_forged_callbacks_change_nothing(bot):
    kim = await coordinator(bot)
    eva = await coordinator(bot, 3003, "Eva", org_key="polisen")
    await kim.send("/checklista")
    await kim.click("Vivalla")
    await kim.click("2")
    [row] = await rows(bot)
    before = dict(row.answers)
    assert before == {"1": 2}

    dialog = kim.last_with_buttons
    kims = dialog_id(dialog)
    await eva.send("/checklista")
    eva_message = eva.last_with_buttons
    for data in [f"d:{kims}:v:2.4", f"d:{kims}:v:1.4", f"d:{kims}:cy",
                 f"d:{kims}:n", f"d:{kims}:s:3"]:
        bot.fake.click_data(3003, eva_message, data)
    await bot.settle()
    assert set(callback_answers(bot)[-5:]) == {"Den här knappen hör till någon annans dialog."}

    for data in [f"d:{kims}:v:2.5", f"d:{kims}:v:2.0", f"d:{kims}:v:21.2",
                 f"d:{kims}:v:0.1", f"d:{kims}:v:2.-1", f"d:{kims}:v:2",
                 f"d:{kims}:s:0", f"d:{kims}:zz", f"d:{kims}:a:nowhere", "d:999:v:2.2",
                 "d:" + "9" * 60, "d"]:
        bot.fake.click_data(3001, dialog, data)
    await bot.settle()
    assert (await rows(bot)) == [row] and (await rows(bot))[0].answers == before
    assert (await rows(bot))[0].status == "draft"
    assert "Påstående 2 av 20" in kim.last_with_buttons["text"]

    # A replayed press sets the same value again: idempotent.
    bot.fake.click_data(3001, dialog, f"d:{kims}:v:2.3")
    bot.fake.click_data(3001, dialog, f"d:{kims}:v:2.3")
    await bot.settle()
    assert (await rows(bot))[0].answers == {"1": 2, "2": 3}
    assert "Påstående 3 av 20" in kim.last_with_buttons["text"]
    assert bot.fake.unanswered_callback_queries() == []


async def test_cancel_asks_first(bot):
    kim = await coordinator(bot)
    await kim.send("/checklista")
    await kim.click("Centrum")
    await kim.click("1 – stämmer inte alls")
    ask = await kim.click(labels.CANCEL)
    assert "Dina 1 svar tas bort" in ask["text"]
    back = await kim.click("Nej, fortsätt")
    assert "Påstående 2 av 20" in back["text"]
    await kim.click(labels.CANCEL)
    gone = await kim.click("Ja, avbryt")
    assert "är avbruten" in gone["text"]
    [row] = await rows(bot)
    assert row.status == "cancelled"
    chooser = await kim.send("/checklista")
    assert "Påbörjade" not in chooser["text"]


async def test_chooser_and_resume_offer_can_be_closed(bot):
    kim = await coordinator(bot)
    await kim.send("/checklista")
    closed = await kim.click(labels.CANCEL)
    assert "Skriv /checklista när du vill" in closed["text"] and not closed.get("reply_markup")
    await kim.send("/checklista centrum")
    await kim.click("2")
    await kim.click(SAVE_LATER)
    await kim.send("/checklista centrum")
    not_now = await kim.click("Inte nu")
    assert "Skriv /checklista när du vill" in not_now["text"]
    [row] = await rows(bot)
    assert (row.status, row.answers) == ("draft", {"1": 2})  # still there to resume


async def test_other_aspects_prefilled_in_jullov(bot, clock):
    clock.now = datetime(2026, 12, 22, 18, 0, tzinfo=UTC)
    kim = await coordinator(bot)
    await kim.send("/checklista vivalla")
    await answer_statements(kim, range(1, 18))

    school = kim.last_with_buttons
    assert "Är det skollov eller nära förestående lov?" in school["text"]
    assert "Förslag: 4 – stämmer mycket bra. Jullov pågår (21 december–8 januari)." \
        in school["text"]
    holiday = await kim.click("✔ Bekräfta förslaget: 4")
    assert "Är det helgdagar eller nära förestående helgdag?" in holiday["text"]
    assert "Julafton om 2 dagar (24 december)." in holiday["text"]
    # The coordinator may overrule a proposal.
    weather = await kim.click("4 – stämmer mycket bra")
    assert "Är väderläget gynnsamt för utomhusaktiviteter?" in weather["text"]
    assert "Förslag" not in weather["text"]
    assert not any(b.startswith("✔ Bekräfta") for b in kim.buttons())
    await kim.click("1 – stämmer inte alls")

    [row] = await rows(bot)
    assert row.status == "done"
    assert (row.answers["18"], row.answers["19"], row.answers["20"]) == (4, 4, 1)


async def test_group_is_pointed_to_private_chat(bot):
    from tests.conftest import make_admin

    await make_admin(bot, 3009)
    bot.fake.user(3009, "Admin")
    bot.fake.create_group(-4001, "Samordnare")
    bot.fake.add_bot_to_group(-4001, 3009)
    bot.fake.send_text(3009, "/registrera_grupp", chat_id=-4001)
    await bot.settle()
    bot.fake.send_text(3009, "/checklista", chat_id=-4001)
    await bot.settle()
    assert "privat chatt" in bot.fake.last_bot_message(-4001)["text"]
    assert await rows(bot) == []
