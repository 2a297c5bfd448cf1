"""The fake Telegram behaves like Telegram where the bot's correctness depends on it."""

import asyncio
import datetime as dtm
import json
import re
import urllib.request

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler

from tests.fake_telegram import FakeRequest, FakeTelegram, FakeTelegramServer, ManualClock

ANNA = 1001
BERTIL = 1002
GROUP = -4012345678


def refused(description: str) -> pytest.RaisesExc[BadRequest]:
    """Expect BadRequest with this description; PTB changes its case (str.capitalize)."""
    return pytest.raises(BadRequest, match="(?i)" + re.escape(description))


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def confirm_all(bot: Bot) -> None:
    """Fetch and confirm everything pending, so that a test sees only its own updates."""
    updates = await bot.get_updates()
    if updates:
        await bot.get_updates(offset=updates[-1].update_id + 1)


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's future behaviour: RetryAfter.retry_after is a timedelta (no deprecation noise)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(clock: ManualClock) -> FakeTelegram:
    fake = FakeTelegram(clock=clock)
    fake.user(ANNA, "Anna", "anna_nattvandrare")
    fake.user(BERTIL, "Bertil")
    fake.send_text(ANNA, "/start")
    return fake


@pytest.fixture
async def bot(fake: FakeTelegram):
    bot = Bot(fake.token, request=FakeRequest(fake), get_updates_request=FakeRequest(fake))
    async with bot:
        yield bot


@pytest.fixture
def group(fake: FakeTelegram) -> int:
    fake.create_group(GROUP, "Trygghetsgruppen")
    fake.add_bot_to_group(GROUP, ANNA)
    return GROUP


# --- sending, editing, deleting -------------------------------------------------------


async def test_bot_identity_comes_from_get_me(bot: Bot) -> None:
    assert bot.username == "lagesbild_test_bot"
    assert bot.id == 123456


async def test_send_edit_delete_round_trip(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(ANNA, "Vilket område?", reply_markup=keyboard([("Norr", "a:1")]))
    assert isinstance(sent.date, dtm.datetime)
    assert fake.last_bot_message(ANNA)["text"] == "Vilket område?"
    assert fake.buttons(sent) == ["Norr"]

    edited = await bot.edit_message_text(
        "Område: Norr", chat_id=ANNA, message_id=sent.message_id, reply_markup=keyboard()
    )
    assert edited.text == "Område: Norr"
    assert edited.edit_date is not None
    assert "reply_markup" not in fake.last_bot_message(ANNA)

    assert await bot.delete_message(ANNA, sent.message_id)
    assert fake.bot_messages(ANNA) == []
    assert fake.bot_messages(ANNA, include_deleted=True)[0]["deleted"] is True
    assert fake.sent_count(ANNA) == 1
    with refused("message to delete not found"):
        await bot.delete_message(ANNA, sent.message_id)
    with refused("message to edit not found"):
        await bot.edit_message_text("x", chat_id=ANNA, message_id=sent.message_id)


async def test_edit_text_without_markup_removes_the_keyboard(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(ANNA, "Välj", reply_markup=keyboard([("Ja", "y"), ("Nej", "n")]))
    await bot.edit_message_text("Valt", chat_id=ANNA, message_id=sent.message_id)
    assert fake.buttons(sent) == []


async def test_identical_edit_is_not_modified(bot: Bot) -> None:
    markup = keyboard([("Ja", "y")])
    sent = await bot.send_message(ANNA, "<b>Läge</b>: grönt", parse_mode=ParseMode.HTML)
    await bot.edit_message_reply_markup(ANNA, sent.message_id, reply_markup=markup)
    with refused("message is not modified"):
        await bot.edit_message_reply_markup(ANNA, sent.message_id, reply_markup=markup)
    with refused("message is not modified"):
        await bot.edit_message_text(
            "<b>Läge</b>: grönt",
            chat_id=ANNA,
            message_id=sent.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    # same characters, other formatting: a real change
    await bot.edit_message_text(
        "Läge: grönt", chat_id=ANNA, message_id=sent.message_id, reply_markup=markup
    )


async def test_bot_may_delete_incoming_messages_only_in_private_chats(
    fake: FakeTelegram, bot: Bot, group: int
) -> None:
    private = fake.send_text(ANNA, "Hej")
    assert await bot.delete_message(ANNA, private["message_id"])
    in_group = fake.send_text(ANNA, "/rapport", chat_id=group)
    with refused("message can't be deleted"):
        await bot.delete_message(group, in_group["message_id"])


async def test_who_the_bot_may_write_to(fake: FakeTelegram, bot: Bot) -> None:
    with refused("chat not found"):
        await bot.send_message(BERTIL, "Hej")  # registered, never pressed /start
    with refused("chat not found"):
        await bot.send_message(999, "Hej")
    fake.block_bot(ANNA)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANNA, "Hej")
    fake.send_text(ANNA, "/start")  # writing again unblocks
    await bot.send_message(ANNA, "Hej igen")


# --- strictness: lengths, HTML, keyboards ---------------------------------------------


async def test_text_length_is_counted_in_utf16_after_parsing(bot: Bot) -> None:
    await bot.send_message(ANNA, "a" * 4096)
    await bot.send_message(ANNA, f"<b>{'a' * 4096}</b>", parse_mode=ParseMode.HTML)
    with refused("message is too long"):
        await bot.send_message(ANNA, "a" * 4097)
    with refused("message is too long"):
        await bot.send_message(ANNA, "😀" * 2049)  # 2049 characters, 4098 UTF-16 units
    with refused("message text is empty"):
        await bot.send_message(ANNA, " \n ")


@pytest.mark.parametrize(
    "html",
    [
        "<b>ej stängd",
        "2 < 3",
        "Q&A",
        "rad<br>rad",
        "<b><i>fel ordning</b></i>",
        "<span>inte spoiler</span>",
        "</b>",
        '<a href="x>länk</a>',
    ],
)
async def test_invalid_html_is_refused(bot: Bot, html: str) -> None:
    with refused("can't parse entities"):
        await bot.send_message(ANNA, html, parse_mode=ParseMode.HTML)


async def test_valid_html_gives_text_and_entities(fake: FakeTelegram, bot: Bot) -> None:
    html = (
        "<b>Läge</b> &lt;gult&gt; &amp; &#228; "
        '<a href="https://example.se/?a=1&amp;b=2">karta</a>\n'
        '<pre><code class="language-python">x = 1</code></pre>'
        '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>'
        "<blockquote expandable>citat</blockquote>\n\n"
    )
    sent = await bot.send_message(ANNA, html, parse_mode=ParseMode.HTML)
    assert sent.text == "Läge <gult> & ä karta\nx = 1stcitat"
    stored = fake.last_bot_message(ANNA)
    assert [(e["type"], e["offset"], e["length"]) for e in stored["entities"]] == [
        ("bold", 0, 4),
        ("text_link", 16, 5),
        ("pre", 22, 5),
        ("spoiler", 27, 1),
        ("spoiler", 28, 1),
        ("expandable_blockquote", 29, 5),
    ]
    assert stored["entities"][1]["url"] == "https://example.se/?a=1&b=2"
    assert stored["entities"][2]["language"] == "python"


async def test_caption_limit(bot: Bot) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    await bot.send_photo(ANNA, png, caption="a" * 1024)
    with refused("message caption is too long"):
        await bot.send_photo(ANNA, png, caption="a" * 1025)


async def test_callback_data_is_limited_to_64_utf8_bytes(bot: Bot) -> None:
    await bot.send_message(ANNA, "ok", reply_markup=keyboard([("Å", "r:" + "åäö" * 10 + "ab")]))
    with refused("BUTTON_DATA_INVALID"):
        await bot.send_message(ANNA, "x", reply_markup=keyboard([("Å", "r:" + "åäö" * 10 + "abc")]))
    with refused("BUTTON_DATA_INVALID"):
        await bot.send_message(ANNA, "x", reply_markup=keyboard([("A", "a" * 65)]))


async def test_inline_buttons_need_text_and_exactly_one_action(bot: Bot) -> None:
    both = {"inline_keyboard": [[{"text": "A", "url": "https://x.se", "callback_data": "a"}]]}
    with refused("can't parse inline keyboard button"):
        await bot.send_message(ANNA, "x", reply_markup=both)
    with refused("Text buttons are unallowed"):
        await bot.send_message(ANNA, "x", reply_markup={"inline_keyboard": [[{"text": "A"}]]})
    with refused("button text must be non-empty"):
        await bot.send_message(ANNA, "x", reply_markup=keyboard([("", "a")]))


# --- updates ----------------------------------------------------------------------------


async def test_updates_are_redelivered_until_confirmed(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_text(ANNA, "ett")
    first = await bot.get_updates()
    again = await bot.get_updates()
    assert [u.update_id for u in first] == [u.update_id for u in again]
    assert [u.message.text for u in first] == ["/start", "ett"]
    assert first[0].update_id < first[1].update_id

    assert await bot.get_updates(offset=first[0].update_id + 1) == again[1:]
    fake.send_text(ANNA, "två")
    rest = await bot.get_updates(offset=first[1].update_id + 1)
    assert [u.message.text for u in rest] == ["två"]
    assert rest[0].update_id > first[1].update_id
    assert fake.pending_update_count() == 1


async def test_commands_get_a_bot_command_entity(fake: FakeTelegram, group: int) -> None:
    private = fake.send_text(ANNA, "/rapport brand")
    assert private["entities"] == [{"type": "bot_command", "offset": 0, "length": 8}]
    in_group = fake.send_text(BERTIL, "/rapport@lagesbild_test_bot", chat_id=group)
    assert in_group["entities"][0]["length"] == len("/rapport@lagesbild_test_bot")


async def test_privacy_mode_hides_group_chatter(fake: FakeTelegram, bot: Bot, group: int) -> None:
    await confirm_all(bot)
    fake.send_text(BERTIL, "bara prat", chat_id=group)
    fake.send_text(BERTIL, "/status@other_bot", chat_id=group)
    fake.send_text(BERTIL, "/status", chat_id=group)
    assert [u.message.text for u in await bot.get_updates()] == ["/status"]
    assert len(fake.messages(group)) == 4  # new_chat_members and three texts


async def test_long_poll_wakes_up_on_new_update(fake: FakeTelegram, bot: Bot) -> None:
    await confirm_all(bot)
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.to_thread(fake.wait_for_long_polls, 1)
    fake.send_text(ANNA, "nu")
    updates = await asyncio.wait_for(poll, 5)
    assert [u.message.text for u in updates] == ["nu"]


async def test_cancelled_long_poll_frees_its_thread(fake: FakeTelegram, bot: Bot) -> None:
    await confirm_all(bot)
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.to_thread(fake.wait_for_long_polls, 1)
    poll.cancel()
    with pytest.raises(asyncio.CancelledError):
        await poll
    await asyncio.to_thread(fake.wait_for_long_polls, 0)


async def test_second_poller_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    await confirm_all(bot)
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await asyncio.to_thread(fake.wait_for_long_polls, 1)
    assert await bot.get_updates() == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)


async def test_allowed_updates_filter_new_updates(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(ANNA, "Läge?", reply_markup=keyboard([("Grönt", "g")]))
    await confirm_all(bot)
    await bot.get_updates(allowed_updates=["message"])
    fake.click(ANNA, sent, "Grönt")
    fake.send_text(ANNA, "text")
    assert [u.message.text for u in await bot.get_updates()] == ["text"]


async def test_application_polls_handles_and_stops_promptly(fake: FakeTelegram) -> None:
    replied = asyncio.Event()

    async def start(update: Update, context: object) -> None:
        await update.message.reply_text("Välkommen")
        if update.effective_user.id == BERTIL:
            replied.set()

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .request(FakeRequest(fake))
        .get_updates_request(FakeRequest(fake))
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.updater.start_polling(timeout=30)
        await app.start()
        await asyncio.to_thread(fake.wait_for_long_polls, 1)
        fake.send_text(BERTIL, "/start")
        await asyncio.wait_for(replied.wait(), 5)
        await asyncio.wait_for(app.updater.stop(), 5)
        await app.stop()
    assert fake.last_bot_message(ANNA)["text"] == "Välkommen"  # pending from before the start
    assert fake.last_bot_message(BERTIL)["text"] == "Välkommen"
    assert fake.pending_update_count() == 0  # the updater confirmed on stop
    await asyncio.wait_for(asyncio.get_running_loop().shutdown_default_executor(), 5)


async def test_membership_changes_come_as_updates(fake: FakeTelegram, bot: Bot, group: int) -> None:
    fake.block_bot(ANNA)
    updates = await bot.get_updates()
    kinds = [
        (u.my_chat_member.new_chat_member.status if u.my_chat_member else u.message.text)
        for u in updates
    ]
    assert kinds == ["/start", "member", None, "kicked"]
    assert updates[2].message.new_chat_members[0].id == bot.id
    assert updates[2].effective_chat.type == "group"


# --- callback queries ---------------------------------------------------------------------


async def test_click_produces_a_callback_query(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(ANNA, "Läge?", reply_markup=keyboard([("Grönt", "l:g")]))
    query = fake.click(ANNA, sent, "Grönt")
    update = (await bot.get_updates())[-1]
    assert update.callback_query.id == query["id"]
    assert update.callback_query.data == "l:g"
    assert update.callback_query.message.message_id == sent.message_id
    assert update.callback_query.from_user.id == ANNA

    assert fake.unanswered_callback_queries() == [query]
    assert await bot.answer_callback_query(query["id"], text="Sparat")
    assert fake.unanswered_callback_queries() == []
    assert fake.callback_answer(query["id"]) == {"text": "Sparat"}
    with refused("query is too old"):
        await bot.answer_callback_query(query["id"])


async def test_click_on_missing_button_lists_the_buttons(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(
        ANNA, "Läge?", reply_markup=keyboard([("Grönt", "g"), ("Rött", "r")])
    )
    with pytest.raises(AssertionError, match=r"\['Grönt', 'Rött'\]"):
        fake.click(ANNA, sent.message_id, "Gult")
    forged = fake.click_data(ANNA, sent.message_id, "admin:drop")
    assert forged["data"] == "admin:drop"


# --- injected failures -------------------------------------------------------------------


async def test_injected_failures_map_to_ptb_exceptions(fake: FakeTelegram, bot: Bot) -> None:
    fake.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(ANNA, "x")
    assert flood.value.retry_after == dtm.timedelta(seconds=7)

    fake.inject("sendMessage", "403")
    with pytest.raises(Forbidden):
        await bot.send_message(ANNA, "x")

    fake.inject("sendMessage", "502", times=2)
    for _ in range(2):
        with pytest.raises(NetworkError) as gateway:
            await bot.send_message(ANNA, "x")
        assert not isinstance(gateway.value, BadRequest)

    fake.inject("sendMessage", "timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(ANNA, "x")
    assert fake.sent_count(ANNA) == 0

    fake.inject("sendMessage", "timeout_after_send")
    with pytest.raises(TimedOut):
        await bot.send_message(ANNA, "delivered anyway")
    assert fake.last_bot_message(ANNA)["text"] == "delivered anyway"
    await bot.send_message(ANNA, "ok")  # faults are used up


async def test_fault_for_one_chat_leaves_others_alone(fake: FakeTelegram, bot: Bot) -> None:
    fake.send_text(BERTIL, "/start")
    fake.inject("sendMessage", "403", chat_id=BERTIL)
    await bot.send_message(ANNA, "ok")
    with pytest.raises(Forbidden):
        await bot.send_message(BERTIL, "x")


async def test_chat_migration(fake: FakeTelegram, bot: Bot, group: int) -> None:
    new_id = -1001234567890
    fake.inject("sendMessage", "chat_migrated", chat_id=group, migrate_to=new_id)
    with pytest.raises(ChatMigrated) as migrated:
        await bot.send_message(group, "Veckans lägesbild")
    assert migrated.value.new_chat_id == new_id
    with pytest.raises(ChatMigrated):
        await bot.send_message(group, "igen")  # the old id stays dead
    await bot.send_message(new_id, "Veckans lägesbild")
    service = [m for m in fake.messages(new_id) if "migrate_from_chat_id" in m]
    assert service[0]["migrate_from_chat_id"] == group


async def test_migrate_group_enqueues_service_messages(
    fake: FakeTelegram, bot: Bot, group: int
) -> None:
    fake.migrate_group(group, -1009876543210)
    updates = await bot.get_updates()
    assert updates[-2].message.migrate_to_chat_id == -1009876543210
    assert updates[-1].message.migrate_from_chat_id == group
    with pytest.raises(ChatMigrated):
        await bot.send_message(group, "x")


async def test_unimplemented_method_fails_loudly(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(InvalidToken, match="sendPoll not implemented by fake"):
        await bot.send_poll(ANNA, "Fråga?", ["a", "b"])
    assert fake.unimplemented_calls[0][0] == "sendPoll"


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    other = "654321:WRONG-token-abcdefghijklmnopqrstuvwxyz"
    with pytest.raises(InvalidToken):
        async with Bot(other, request=FakeRequest(fake)):
            pass


# --- rate limits ----------------------------------------------------------------------------


async def test_group_limit_is_20_per_rolling_minute(
    fake: FakeTelegram, bot: Bot, group: int, clock: ManualClock
) -> None:
    for _ in range(20):
        await bot.send_message(group, "rapport")
        clock.advance(2)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(group, "en för mycket")
    assert flood.value.retry_after == dtm.timedelta(seconds=20)  # first send leaves the window
    assert fake.rate_limit_hits[0].scope == "group"
    clock.advance(20)
    await bot.send_message(group, "nu går det")
    assert fake.sent_count(group) == 21


async def test_private_burst_and_global_limits(
    fake: FakeTelegram, bot: Bot, clock: ManualClock
) -> None:
    for _ in range(8):
        await bot.send_message(ANNA, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(ANNA, "x")
    clock.advance(1)
    for user_id in range(2000, 2030):
        fake.user(user_id)
        fake.send_text(user_id, "/start")
        if user_id < 2029:
            await bot.send_message(user_id, "x")
    await bot.send_message(ANNA, "x")  # the 30th within this second
    with pytest.raises(RetryAfter):
        await bot.send_message(2029, "x")
    assert [hit.scope for hit in fake.rate_limit_hits] == ["private", "global"]

    fake.enforce_rate_limits = False
    await bot.send_message(2029, "x")


async def test_edits_and_answers_are_not_counted(
    fake: FakeTelegram, bot: Bot, clock: ManualClock
) -> None:
    sent = await bot.send_message(ANNA, "0")
    for n in range(1, 20):
        await bot.edit_message_text(str(n), chat_id=ANNA, message_id=sent.message_id)
    assert fake.rate_limit_hits == []


# --- other methods ---------------------------------------------------------------------------


async def test_commands_chat_and_leaving(fake: FakeTelegram, bot: Bot, group: int) -> None:
    await bot.set_my_commands([("rapport", "Lämna en rapport"), ("lage", "Visa läget")])
    assert [c.command for c in await bot.get_my_commands()] == ["rapport", "lage"]
    assert fake.commands[0] == {"command": "rapport", "description": "Lämna en rapport"}
    with refused("BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Rapport!", "x")])

    chat = await bot.get_chat(group)
    assert chat.title == "Trygghetsgruppen"
    await bot.send_chat_action(group, "typing")
    assert await bot.leave_chat(group)
    assert fake.left_chats == [group]
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(group, "x")


async def test_send_document_stores_the_upload(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_document(ANNA, b"a;b\n1;2\n", filename="läge.csv", caption="Veckan")
    assert sent.document.file_name == "läge.csv"
    assert fake.files[sent.document.file_id].content == b"a;b\n1;2\n"
    again = await bot.send_document(ANNA, sent.document.file_id)
    assert again.document.file_id == sent.document.file_id


# --- over HTTP with PTB's default HTTPXRequest -----------------------------------------------


@pytest.fixture
def server(fake: FakeTelegram):
    with FakeTelegramServer(fake) as server:
        yield server


async def test_http_round_trip(fake: FakeTelegram, server: FakeTelegramServer) -> None:
    async with Bot(fake.token, base_url=server.base_url) as bot:
        assert bot.username == "lagesbild_test_bot"
        sent = await bot.send_message(
            ANNA, "<i>Läge</i> åäö", parse_mode=ParseMode.HTML, reply_markup=keyboard([("Ok", "ö")])
        )
        assert sent.text == "Läge åäö"
        assert fake.buttons(sent) == ["Ok"]
        doc = await bot.send_document(ANNA, b"\x00\xffdata", filename="rapport åäö.bin")
        assert fake.files[doc.document.file_id].content == b"\x00\xffdata"
        assert fake.files[doc.document.file_id].filename == "rapport åäö.bin"
        updates = await bot.get_updates(timeout=5)  # pending already: returns at once
        assert updates[0].message.text == "/start"
        with refused("can't parse entities"):
            await bot.send_message(ANNA, "a < b", parse_mode=ParseMode.HTML)


async def test_http_timeout_is_a_dropped_connection(
    fake: FakeTelegram, server: FakeTelegramServer
) -> None:
    async with Bot(fake.token, base_url=server.base_url) as bot:
        fake.inject("sendMessage", "timeout")
        with pytest.raises(NetworkError):
            await bot.send_message(ANNA, "x")
        await bot.send_message(ANNA, "x")
        assert fake.sent_count(ANNA) == 1


def test_http_accepts_json_bodies_and_any_method_case(
    fake: FakeTelegram, server: FakeTelegramServer
) -> None:
    body = {"chat_id": ANNA, "text": "Hej", "reply_markup": {"inline_keyboard": []}}
    request = urllib.request.Request(
        f"{server.base_url}{fake.token}/SENDMESSAGE",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        answer = json.loads(response.read())
    assert answer["ok"] and answer["result"]["text"] == "Hej"
    assert fake.calls[-1] == ("sendMessage", body)
