"""The dialog engine as a user meets it: replays, forged presses, odd inputs."""

import logging

from sqlmodel import select

from storage.models import Dialog, Report
from tests.conftest import registered


async def dialogs(bot) -> list[Dialog]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Dialog).order_by(Dialog.id))).all())


async def test_back_on_a_calm_dialog_is_answered_and_changes_nothing(bot, caplog):
    """Finding 4: a Back press on a /lugnt dialog crashed (MAIN_STEPS.index("calm"))."""
    anna = await registered(bot, 3101)
    prompt = await anna.send("/lugnt")
    [calm] = await dialogs(bot)
    before = (calm.step, calm.status, dict(calm.data))
    with caplog.at_level(logging.ERROR):
        for data in (f"d:{calm.id}:b", f"r:{calm.id}:b", f"l:{calm.id}:b"):
            query = bot.fake.click_data(anna.user_id, prompt, data)
            await bot.settle()
            assert bot.fake.callback_answer(query["id"]) is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bot.fake.unanswered_callback_queries() == []
    [after] = await dialogs(bot)
    assert (after.step, after.status, after.data) == before
    done = await anna.click("Vivalla", prompt)
    assert "Vivalla" in done["text"]
    async with bot.services.db.session() as session:
        assert len((await session.exec(select(Report))).all()) == 1


async def test_a_press_on_an_older_message_of_the_same_dialog_changes_nothing(bot):
    anna = await registered(bot, 3102)
    await anna.send("/rapport")
    await anna.click("Centrum")
    await anna.click("Annan plats (skriv)")
    first = anna.last_with_buttons  # the newest message is the position keyboard's
    await anna.send("Torget")  # the dialog moves on in a new message
    [row] = await dialogs(bot)
    step = row.step
    query = bot.fake.click_data(anna.user_id, first, f"d:{row.id}:b")
    await bot.settle()
    assert "äldre meddelande" in bot.fake.callback_answer(query["id"])["text"]
    [again] = await dialogs(bot)
    assert again.step == step


async def test_a_report_goes_on_when_update_ids_restart_lower_after_a_quiet_week(bot, clock):
    """Finding 8: Telegram picks a random next update id after a week without updates.

    Replays were recognised by ``update_id <= last``; now by the ids a dialog handled.
    """
    bot.fake.next_update_id = 900_000
    anna = await registered(bot, 3103)
    await anna.send("/rapport")
    await anna.click("Centrum")
    clock.advance(days=8)
    bot.fake.next_update_id = 5  # far below every id the bot has seen
    await anna.click("Annan plats (skriv)")
    assert "Skriv platsens namn" in anna.last_with_buttons["text"]
    after = await anna.send("Torget")
    assert "Vad" in after["text"]
