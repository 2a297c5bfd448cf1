"""Finding 9: one chat whose Telegram calls are slow must not stall the others.

On SQLite there is one writer; a dialog that kept its write transaction open
while it talked to Telegram held every other chat's step behind that call.
"""

import asyncio

from tests.conftest import registered

# A safety bound, not a timing assertion: a stalled chat waits for SQLite's
# 15 s busy timeout, a healthy one answers at once.
BOUND_S = 8


async def test_a_held_chat_does_not_stall_another_chats_dialog(bot):
    anna = await registered(bot, 3001)
    bert = await registered(bot, 3002)
    release = bot.fake.hold(anna.user_id)  # Telegram answers nothing to Anna for now
    bert_answered = bot.fake.watch(bert.user_id)

    bot.fake.send_text(anna.user_id, "/rapport")
    bot.fake.send_text(bert.user_id, "/rapport")
    await bot.poller.poll_once(0)
    try:
        await asyncio.wait_for(bert_answered.wait(), BOUND_S)
    finally:
        release.set()
    await bot.settle()
    assert "Område" in bert.last["text"]
    assert "Område" in anna.last["text"]
    # Bert's first press is answered while Anna's chat is held again.
    release.clear()
    bert_answered = bot.fake.watch(bert.user_id)
    bot.fake.click(bert.user_id, bert.last_with_buttons, "Vivalla")
    bot.fake.send_text(anna.user_id, "/lugnt")
    await bot.poller.poll_once(0)
    try:
        await asyncio.wait_for(bert_answered.wait(), BOUND_S)
    finally:
        release.set()
    await bot.settle()
    assert "Plats" in bert.last_with_buttons["text"]  # bert.last: the position keyboard
