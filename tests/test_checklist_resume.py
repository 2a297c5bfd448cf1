"""A half-done checklist goes on after a quiet week, when Telegram's update ids restart lower.

Bot API, Update.update_id: "if there are no new updates for at least a week, then
identifier of the next update will be chosen randomly instead of sequentially". A press
is new when its id is not among the ids the dialog has handled, never because it is
higher than the last one.
"""

from sqlmodel import select

from bot.features.checklist.dialog import RESUME, SAVE_LATER
from est.checklist import scale_label, statement
from storage.models import Checklist, Dialog
from tests.conftest import registered

ANSWERS = {n: 1 for n in range(1, 21)} | {3: 2, 9: 4, 13: 3}


async def coordinator(bot):
    return await registered(bot, 3101, "Kim", role="coordinator", org_key="kommunen")


async def checklists(bot) -> list[Checklist]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Checklist).order_by(Checklist.id))).all())


async def answer(person, numbers):
    for number in numbers:
        shown = person.last_with_buttons
        assert f"Påstående {number} av 20" in shown["text"]
        assert statement(number).text in shown["text"]
        await person.click(scale_label(ANSWERS[number]))


def callback_answers(bot) -> list[str]:
    return [c.get("text") for m, c in bot.fake.calls if m == "answerCallbackQuery"]


async def test_saved_checklist_resumes_when_update_ids_jump_lower(bot, fake, clock):
    fake.next_update_id = 900000
    kim = await coordinator(bot)
    await kim.send("/checklista")
    await kim.click("Oxhagen")
    await answer(kim, range(1, 8))
    saved = await kim.click(SAVE_LATER)
    assert "7 av 20" in saved["text"]

    await bot.restart()
    clock.advance(days=9)
    fake.next_update_id = 17  # far below every id handled so far
    chooser = await kim.send("/checklista")
    assert "Oxhagen (7 av 20)" in chooser["text"]
    await kim.click("Oxhagen")
    resumed = await kim.click(RESUME)
    assert "Påstående 8 av 20" in resumed["text"]
    await answer(kim, range(8, 21))

    assert "är klar" in kim.last["text"]
    [row] = await checklists(bot)
    assert row.status == "done" and row.completed_at == clock()
    assert {int(k): v for k, v in row.answers.items()} == ANSWERS
    assert not any("gäller inte" in (text or "") for text in callback_answers(bot))
    assert bot.fake.unanswered_callback_queries() == []


async def test_open_checklist_dialog_goes_on_when_update_ids_jump_lower(bot, fake, clock):
    """No "Spara": the dialog stays open, and its buttons still work a week later."""
    fake.next_update_id = 900000
    kim = await coordinator(bot)
    await kim.send("/checklista vivalla")
    await answer(kim, range(1, 6))

    await bot.restart()
    clock.advance(days=8)
    fake.next_update_id = 17
    await answer(kim, range(6, 10))

    [row] = await checklists(bot)
    assert row.status == "draft"
    assert {int(k): v for k, v in row.answers.items()} == {n: ANSWERS[n] for n in range(1, 10)}
    assert "Påstående 10 av 20" in kim.last_with_buttons["text"]
    async with bot.services.db.session() as session:
        [dialog] = (await session.exec(select(Dialog).where(Dialog.kind == "checklist"))).all()
    assert dialog.status == "open" and dialog.data["number"] == 10
    # Handled before the week (high ids), then after it (low ids): both kinds applied.
    before, after = dialog.handled_update_ids[:-4], dialog.handled_update_ids[-4:]
    assert before and all(i > 900000 for i in before) and after == [17, 18, 19, 20]
    assert not any("gäller inte" in (text or "") for text in callback_answers(bot))
    assert bot.fake.unanswered_callback_queries() == []
