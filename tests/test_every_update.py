"""Every update gets the handling it should: strangers, edits, media, leftovers.

Through the real Application and the fake Telegram: a member writing in private
always gets an answer, an edit never counts as new input, media is never kept,
and a stranger gets the one polite refusal whatever they send.
"""

import logging

import pytest
from sqlmodel import SQLModel, select
from telegram import Bot

from storage.models import Member, Report
from tests.conftest import make_admin, registered
from tests.fake_telegram import FakeRequest

UP_TO_TEXT = ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
              "3 – Allvarligt"]
REFUSAL = "Be din samordnare om en inbjudan"
EDIT_NOTICE = "Ändringar i ett skickat meddelande läses inte"
ONLY_TEXT = "Jag kan bara ta emot text, knapptryck och en delad position"
FAILURE = "Något gick fel"


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def reports(bot) -> list[Report]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(Report))).all())


async def open_dialog(bot, user_id: int) -> tuple[int, str, dict]:
    """(id, step, data) of the person's one open dialog, whatever the table is called."""
    table = next(t for t in SQLModel.metadata.sorted_tables
                 if {"member_id", "step", "status", "data"} <= set(t.c.keys()))
    async with bot.services.db.session() as session:
        member_id = (await session.exec(
            select(Member.id).where(Member.telegram_user_id == user_id))).one()
        rows = (await session.exec(
            select(table.c.id, table.c.step, table.c.data)
            .where(table.c.member_id == member_id, table.c.status == "open"))).all()
    assert len(rows) == 1, rows
    return tuple(rows[0])


async def database_dump(bot) -> str:
    """Every row of every table as text, to show something is stored nowhere."""
    async with bot.services.db.session() as session:
        rows = []
        for table in SQLModel.metadata.sorted_tables:
            rows += (await session.exec(select(table))).all()
    return repr(rows)


async def walk(person, labels):
    for label in labels:
        await person.click(label)
    return person.last


# ---------------------------------------------------------------- 1: /start from a stranger

@pytest.mark.parametrize("command", ["/start", "/start@lagesbild_test_bot"])
async def test_bare_start_from_a_stranger_gets_the_refusal(bot, caplog, command):
    other = bot.person(5002, "Annan")
    refusal = (await other.send("hej"))["text"]
    assert REFUSAL in refusal

    stranger = bot.person(5001, "Okänd")
    reply = await stranger.send(command)
    assert reply["text"] == refusal
    assert stranger.texts() == [refusal]
    assert errors(caplog) == []


async def test_start_with_a_bogus_token_from_a_stranger(bot, caplog):
    stranger = bot.person(5003, "Okänd")
    reply = await stranger.send("/start bogus-token")
    assert "Inbjudan känns inte igen" in reply["text"]
    assert "Be din samordnare om en ny inbjudan" in reply["text"]
    assert len(stranger.texts()) == 1
    assert errors(caplog) == []


async def test_bare_start_from_a_member_greets_them_again(bot, caplog):
    anna = await registered(bot, 5004)
    assert "Hej igen, Anna" in (await anna.send("/start"))["text"]
    assert errors(caplog) == []


# ---------------------------------------------------------------- 5: edited messages

async def test_editing_old_messages_during_a_report_changes_nothing(bot, caplog):
    anna = await registered(bot, 5010)
    await anna.send("/rapport")
    await walk(anna, ["Varberga", "Annan plats (skriv)"])
    await anna.send("Lekplatsen bakom Varbergaskolan")
    await walk(anna, ["☐ Bilbrand", "Klar ✔", "1–2", "Nu", "1 – Lindrigt"])
    before = await open_dialog(bot, 5010)
    assert before[1] == "text"
    sent = bot.fake.sent_count(5010)

    place = next(m for m in anna.sent if m["text"].startswith("Lekplatsen"))
    notice = await anna.edit("Parkeringen vid Coop", place)
    assert EDIT_NOTICE in notice["text"]
    command = next(m for m in anna.sent if m["text"] == "/rapport")
    notice = await anna.edit("/rapport igen", command)  # would open a new dialog
    assert EDIT_NOTICE in notice["text"]
    assert bot.fake.sent_count(5010) == sent + 2
    assert await open_dialog(bot, 5010) == before

    # The dialog continues at the Beskrivning step as if nothing happened.
    sharing = await anna.send("Två bilar brann på parkeringen")
    assert "Delning" in sharing["text"]
    await walk(anna, ["Alla samordnare", "✅ Skicka"])
    [report] = await reports(bot)
    assert report.place_name == "Lekplatsen bakom Varbergaskolan"
    assert report.text == "Två bilar brann på parkeringen"
    assert errors(caplog) == []


async def test_editing_a_text_gets_a_notice_once(bot):
    anna = await registered(bot, 5011)
    first = await anna.send("hej")
    sent = bot.fake.sent_count(5011)
    notice = await anna.edit("hej hej")
    assert notice["text"] == ("Ändringar i ett skickat meddelande läses inte. "
                              "Skriv ett nytt meddelande i stället.")
    assert bot.fake.sent_count(5011) == sent + 1
    assert first["message_id"] != notice["message_id"]


async def test_a_moving_live_location_is_not_answered_each_time(bot):
    anna = await registered(bot, 5012)
    await anna.share_location(59.2793, 15.2470, live_period=900)
    sent = bot.fake.sent_count(5012)
    await anna.move_live_location(59.2794, 15.2471)
    await anna.move_live_location(59.2795, 15.2472)
    assert bot.fake.sent_count(5012) == sent


async def test_edits_in_a_group_are_ignored_silently(bot, fake):
    await make_admin(bot, 5020)
    admin = bot.person(5020, "Karin")
    await admin.send("/start")
    fake.create_group(-4005, "Samordnare EST")
    fake.add_bot_to_group(-4005, 5020)
    command = fake.send_text(5020, "/registrera_grupp", chat_id=-4005)
    await bot.settle()
    assert "registrerad som samordningsgrupp" in fake.last_bot_message(-4005)["text"]
    sent, private = fake.sent_count(-4005), fake.sent_count(5020)
    fake.edit_text(5020, command, "/hjalp")
    await bot.settle()
    assert fake.sent_count(-4005) == sent
    assert fake.sent_count(5020) == private  # no notice in private either


# ---------------------------------------------------------------- 10: media and the rest

async def test_photo_and_voice_at_the_description_step(bot, caplog):
    anna = await registered(bot, 5030)
    await anna.send("/rapport")
    await walk(anna, UP_TO_TEXT)
    before = await open_dialog(bot, 5030)
    assert before[1] == "text"
    sent = bot.fake.sent_count(5030)

    photo = bot.fake.send_photo(5030, caption="Fönster krossat vid entrén")
    await bot.settle()
    assert ONLY_TEXT in anna.last["text"]
    voice = bot.fake.send_voice(5030, duration=7)
    await bot.settle()
    assert ONLY_TEXT in anna.last["text"]
    assert bot.fake.sent_count(5030) == sent + 2
    assert await open_dialog(bot, 5030) == before  # same dialog, same step, same data

    summary = await anna.send("Krossade fönster vid entrén")
    assert "Delning" in summary["text"]
    await walk(anna, ["Alla samordnare", "✅ Skicka"])
    [report] = await reports(bot)
    assert report.text == "Krossade fönster vid entrén"

    # Nothing of the media is kept: no file id, no caption, in any table.
    dump = await database_dump(bot)
    for file in [*photo["photo"], voice["voice"]]:
        assert file["file_id"] not in dump and file["file_unique_id"] not in dump
    assert "Fönster krossat" not in dump
    assert errors(caplog) == []


async def test_sticker_outside_any_dialog_gets_the_answer(bot):
    anna = await registered(bot, 5031)
    sent = bot.fake.sent_count(5031)
    reply = await anna.send_sticker("😂")
    assert reply["text"] == ("Jag kan bara ta emot text, knapptryck och en delad position. "
                             "Bilder, röstmeddelanden och filer sparas inte – skriv i stället "
                             "några ord.")
    assert bot.fake.sent_count(5031) == sent + 1


FILE = {"file_id": "FAKE-other-1", "file_unique_id": "FAKE-unique-other-1"}
OTHER_KINDS = {
    "video": {"video": FILE | {"width": 640, "height": 360, "duration": 5}},
    "video_note": {"video_note": FILE | {"length": 240, "duration": 3}},
    "audio": {"audio": FILE | {"duration": 60, "title": "Låt"}},
    "animation": {"animation": FILE | {"width": 320, "height": 240, "duration": 2},
                  "document": FILE | {"file_name": "gif.mp4", "mime_type": "video/mp4"}},
    "contact": {"contact": {"phone_number": "+46701234567", "first_name": "Kim"}},
    "poll": {"poll": {"id": "5000000001", "question": "Lugnt?", "total_voter_count": 0,
                      "options": [{"persistent_id": "0", "text": "Ja", "voter_count": 0},
                                  {"persistent_id": "1", "text": "Nej", "voter_count": 0}],
                      "is_closed": False, "is_anonymous": True, "type": "regular",
                      "allows_multiple_answers": False, "allows_revoting": True,
                      "members_only": False}},
    "dice": {"dice": {"emoji": "🎲", "value": 4}},
}


@pytest.mark.parametrize("kind", OTHER_KINDS)
async def test_every_other_kind_of_message_gets_the_answer(bot, kind):
    anna = await registered(bot, 5032)
    sent = bot.fake.sent_count(5032)
    reply = await anna.send_content(OTHER_KINDS[kind])
    assert ONLY_TEXT in reply["text"]
    assert bot.fake.sent_count(5032) == sent + 1


async def test_document_outside_any_dialog_gets_the_answer(bot):
    anna = await registered(bot, 5033)
    sent = bot.fake.sent_count(5033)
    assert ONLY_TEXT in (await anna.send_document("karta.pdf", caption="se bild"))["text"]
    assert bot.fake.sent_count(5033) == sent + 1


async def test_stranger_sending_a_photo_gets_the_refusal(bot, caplog):
    stranger = bot.person(5040, "Okänd")
    reply = await stranger.send_photo()
    assert REFUSAL in reply["text"]
    assert len(stranger.texts()) == 1
    assert errors(caplog) == []


async def test_location_and_replies_with_no_dialog_are_answered(bot):
    anna = await registered(bot, 5050)
    welcome = anna.last
    for act in [lambda: anna.reply("vad betyder det här?", welcome),
                lambda: anna.reply("och det här?", anna.sent[-1])]:
        sent = bot.fake.sent_count(5050)
        reply = await act()
        assert bot.fake.sent_count(5050) == sent + 1
        assert "/rapport" in reply["text"]
    # A position outside a dialog starts a report at that place (issue 9).
    sent = bot.fake.sent_count(5050)
    reply = await anna.share_location(59.2793, 15.2470)
    assert bot.fake.sent_count(5050) == sent + 1
    assert "Rapport 3/8" in reply["text"]


# ---------------------------------------------------------------- the fake itself

async def test_the_fake_sends_media_and_edits_in_bot_api_shapes(fake):
    fake.user(5060, "Anna")
    text = fake.send_text(5060, "hej")
    fake.send_photo(5060, caption="bild")
    fake.send_voice(5060, duration=7)
    fake.send_sticker(5060, "😂")
    fake.send_document(5060, "karta.pdf")
    fake.edit_text(5060, text, "/hjalp")
    live = fake.share_location(5060, 59.27, 15.24, live_period=900)
    fake.move_live_location(5060, live, 59.28, 15.25)
    with pytest.raises(AssertionError):
        fake.edit_text(5060, text, "/hjalp")  # unchanged: Telegram sends nothing
    with pytest.raises(AssertionError):
        fake.move_live_location(5060, text, 59.0, 15.0)  # not a live location

    async with Bot(fake.token, request=FakeRequest(fake),
                   get_updates_request=FakeRequest(fake)) as telegram:
        updates = await telegram.get_updates()
    messages = [u.effective_message for u in updates]
    photo, voice, sticker, document = messages[1:5]
    assert [s.width for s in photo.photo] == [90, 320, 1280] and photo.caption == "bild"
    assert len({s.file_id for s in photo.photo}) == 3
    assert (voice.voice.duration.total_seconds(), voice.voice.mime_type) == (7, "audio/ogg")
    assert sticker.sticker.emoji == "😂" and sticker.sticker.type == "regular"
    assert document.document.file_name == "karta.pdf"
    edit, moved = updates[5], updates[7]
    assert edit.message is None and edit.edited_message.message_id == text["message_id"]
    assert edit.edited_message.text == "/hjalp" and edit.edited_message.edit_date is not None
    assert edit.edited_message.entities[0].type == "bot_command"
    assert moved.edited_message.location.latitude == 59.28
    assert moved.edited_message.location.live_period.total_seconds() == 900
    assert fake.files[photo.photo[-1].file_id].mime_type == "image/jpeg"
