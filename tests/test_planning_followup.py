"""The uppföljning question and the återkoppling thank-you go through the outbox.

The question is a dialog the bot opens on its own: its row is made with the claim,
the outbox sends it once, and the dialog is bound to the message it delivered.
The test clock starts on Friday 20 November 2026, 21:00 in Örebro (20:00 UTC).
"""

from datetime import timedelta

from sqlmodel import select

from bot.features.planning import feedback, followup
from storage.models import Broadcast, Delivery, Dialog, Insats, Member
from tests.conftest import file_report, registered

QUESTION = "Uppföljning av insats"


async def rows(bot, model) -> list:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(model).order_by(model.id))).all())


async def member_id(bot, user_id: int) -> int:
    return next(m.id for m in await rows(bot, Member) if m.telegram_user_id == user_id)


async def add_insats(bot, user_id: int, what: str, *, hours: float = 2,
                     place_key: str | None = None) -> int:
    now = bot.clock()
    async with bot.services.db.session() as session:
        insats = Insats(area_key="vivalla", place_key=place_key,
                        place_name=None if place_key else "Torget", what=what,
                        org_key="kommunen", starts_at=now, ends_at=now + timedelta(hours=hours),
                        created_by_member_id=await member_id(bot, user_id), created_at=now)
        session.add(insats)
        await session.commit()
        return insats.id


async def ask(bot) -> int:
    return await followup.ask_for_followups(bot.services, bot.application.bot,
                                            bot.application.bot_data["dialogs"])


def questions(person) -> list[str]:
    return [t for t in person.texts() if QUESTION in t]


async def test_the_question_is_sent_once_through_the_outbox_and_survives_a_restart(bot):
    karin = await registered(bot, 2001, "Karin", role="coordinator", org_key="kommunen")
    insats_id = await add_insats(bot, 2001, "Fältgruppen på plats")
    bot.clock.advance(hours=2, minutes=1)
    assert await ask(bot) == 1
    question = karin.last
    [broadcast] = [b for b in await rows(bot, Broadcast) if b.kind == "followup"]
    assert broadcast.period == str(insats_id)
    [delivery] = [d for d in await rows(bot, Delivery) if d.broadcast_id == broadcast.id]
    assert (delivery.status, delivery.message_ids) == ("sent", [question["message_id"]])
    [dialog] = [d for d in await rows(bot, Dialog) if d.kind == "followup"]
    assert (dialog.status, dialog.step, dialog.message_id) == (
        "open", "fu_ask", question["message_id"])

    await bot.restart()
    assert await ask(bot) == 0 and len(questions(karin)) == 1
    prompt = await karin.click("Oförändrat", question)
    assert "Effekt: Oförändrat – sparad" in prompt["text"]
    saved = await karin.send("Som vanligt på torget")
    assert "Uppföljningen av insats #1 är sparad" in saved["text"]
    [insats] = await rows(bot, Insats)
    assert (insats.followup_effect, insats.followup_comment) == (
        "unchanged", "Som vanligt på torget")
    # The question's button pressed again (an old client): nothing changes.
    query = bot.fake.click_data(2001, question, f"d:{dialog.id}:e:worse")
    await bot.settle()
    assert bot.fake.callback_answer(query["id"])["text"] == "Redan sparat."
    assert (await rows(bot, Insats))[0].followup_effect == "unchanged"


async def test_a_question_the_outbox_could_not_send_is_asked_on_the_next_run(bot):
    karin = await registered(bot, 2001, "Karin", role="coordinator", org_key="kommunen")
    await add_insats(bot, 2001, "Belysning vid torget")
    bot.clock.advance(hours=3)
    bot.fake.inject("sendMessage", "500", chat_id=2001, times=1000)
    assert await ask(bot) == 0
    [insats] = await rows(bot, Insats)
    assert insats.followup_asked_at is None and insats.status == "done"
    assert [d.status for d in await rows(bot, Dialog) if d.kind == "followup"] == ["cancelled"]

    bot.fake.clear_faults()
    bot.clock.advance(minutes=10)
    assert await ask(bot) == 1
    assert len(questions(karin)) == 1
    done = await karin.click("Bättre")
    assert "Effekt: Bättre – sparad" in done["text"]
    saved = await karin.click("Hoppa över")
    assert "Uppföljningen av insats #1 är sparad" in saved["text"]


async def test_two_questions_at_once_can_both_be_answered(bot):
    karin = await registered(bot, 2001, "Karin", role="coordinator", org_key="kommunen")
    await add_insats(bot, 2001, "Nattvandring")
    await add_insats(bot, 2001, "Fältare")
    bot.clock.advance(hours=3)
    assert await ask(bot) == 2
    first, second = [m for m in bot.fake.bot_messages(2001) if QUESTION in m["text"]]
    await karin.click("Sämre", first)  # the first question becomes its comment prompt
    await karin.click("Bättre", second)
    await karin.click("Hoppa över", second)
    await karin.click("Hoppa över", first)
    [saved] = [m for m in bot.fake.bot_messages(2001) if m["message_id"] == first["message_id"]]
    assert "Uppföljningen av insats #1 är sparad" in saved["text"]
    assert [i.followup_effect for i in await rows(bot, Insats)] == ["worse", "better"]


async def test_an_insats_marked_done_early_is_asked_at_the_next_run(bot):
    karin = await registered(bot, 2001, "Karin", role="coordinator", org_key="kommunen")
    await add_insats(bot, 2001, "Vakter vid torget", hours=48)
    await karin.send("/insats")
    await karin.click("✔ Klar #1")
    assert await ask(bot) == 1 and len(questions(karin)) == 1


async def test_the_thank_you_goes_through_the_outbox_once(bot):
    anna = await registered(bot, 1001, "Anna")
    await file_report(anna, area="Vivalla", place="Vivallaskolan")
    await registered(bot, 2001, "Karin", role="coordinator", org_key="kommunen")
    insats_id = await add_insats(bot, 2001, "Extra nattvandring", place_key="viv_skola")
    services, telegram = bot.services, bot.application.bot
    assert await feedback.send_feedback(services, telegram, insats_id) == 1
    assert await feedback.send_feedback(services, telegram, insats_id) == 0  # pushed again
    assert sum("Tack för dina rapporter" in t for t in anna.texts()) == 1
    [broadcast] = [b for b in await rows(bot, Broadcast) if b.kind == "feedback"]
    assert broadcast.period == str(insats_id)
