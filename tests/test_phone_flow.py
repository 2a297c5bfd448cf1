"""Issue 9, "Faster and kinder on a phone": the report and the checklist with one thumb.

Every test goes through the real Application and the fake Bot API, as a night walker
or a coordinator on a phone would: fewer rows to scroll, plain words, a position in one
tap, times as people type them, a long description kept, editing that goes straight to
the point, and a checklist that knows "Vet ej" and asks before wiping anything.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from sqlmodel import select

from est import report_draft as flow
from est.checklist import STATEMENTS, scale_label
from est.config import parse_config
from storage.models import Checklist, Dialog, Report, ReportCategory
from tests.conftest import file_report, registered

POSITION = "📍 Dela min position"
ALL, OWN = "Alla samordnare", "Bara min organisation"
VIVALLASKOLAN = (59.2925, 15.1570)
OXHAGSSKOLAN = (59.2840, 15.2440)
STORTORGET = (59.2737, 15.2133)
NOWHERE_NEAR = (59.2600, 15.1000)  # inside the kommun, far from every known place
COORDINATES = re.compile(r"\d+[.,]\d{3,}")


async def rows(bot, model, *where):
    async with bot.services.db.session() as session:
        query = select(model)
        for clause in where:
            query = query.where(clause)
        return list((await session.exec(query)).all())


async def walk(person, labels):
    for label in labels:
        await person.click(label)
    return person.last_with_buttons


def keyboard_rows(message) -> list[list[str]]:
    return [[b["text"] for b in row] for row in message["reply_markup"]["inline_keyboard"]]


def markup_of(params) -> dict:
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    return markup or {}


def position_keyboards(fake, chat_id: int) -> list[dict]:
    """The sendMessage calls to the chat that showed a reply keyboard asking for a position."""
    shown = []
    for name, params in fake.calls:
        if name != "sendMessage" or int(params.get("chat_id", 0)) != chat_id:
            continue
        markup = markup_of(params)
        buttons = [b for row in markup.get("keyboard", []) for b in row]
        if any(isinstance(b, dict) and b.get("request_location") for b in buttons):
            shown.append({"text": params.get("text"), "buttons": buttons, "markup": markup})
    return shown


def open_position_prompts(fake, chat_id: int) -> list[dict]:
    """Bot messages still in the chat that carry the position keyboard's text."""
    texts = {re.sub(r"<[^>]+>", "", k["text"]) for k in position_keyboards(fake, chat_id)}
    return [m for m in fake.bot_messages(chat_id) if m.get("text") in texts]


def all_bot_texts(fake, chat_id: int) -> str:
    return "\n".join(m.get("text") or "" for m in fake.bot_messages(chat_id, include_deleted=True))


# ---------------------------------------------------------------- 1. the "Vad" step

async def test_what_step_has_two_columns_klar_on_top_and_most_used_first(bot):
    order = bot.config.category_order["nattvandrare"]
    assert order, "the bundled config orders the night walkers' categories"
    anna = await registered(bot, 9101)
    await anna.send("/rapport")
    what = await walk(anna, ["Vivalla", "Vivallaskolan"])
    grid = keyboard_rows(what)
    assert grid[0] == ["Klar ✔"]  # reachable without scrolling
    categories = [row for row in grid[1:] if row and row[0].startswith(("☐", "☑"))]
    assert all(len(row) == 2 for row in categories[:-1]) and len(categories[-1]) in (1, 2)
    shown = [label[2:] for row in categories for label in row]
    wanted = [bot.config.category(k).label for k in order]
    assert shown[:len(wanted)] == wanted
    assert len(grid) <= 10  # 13 categories in 7 rows, Klar and Tillbaka/Avbryt

    # What the organisation reports most comes right after the configured ones.
    rare = next(c for c in flow.reportable_categories(bot.config, "nattvandrare")
                if c.key not in order and c.label != shown[len(wanted)])
    await anna.click("✖ Avbryt")
    for _ in range(2):
        await file_report(anna, category="☐ " + rare.label, sharing=ALL)
    await anna.send("/rapport")
    what = await walk(anna, ["Vivalla", "Vivallaskolan"])
    shown = [label[2:] for row in keyboard_rows(what)[1:] for label in row
             if label.startswith(("☐", "☑"))]
    assert shown[len(wanted)] == rare.label


def test_category_order_in_the_config_is_checked():
    base = """
kommun = "Test"
[[areas]]
key = "a"
name = "A"
[[organisations]]
key = "o"
name = "O"
kind = "nattvandrare"
[[categories]]
key = "lugnt"
label = "Lugnt"
weight = 0
calm = true
[[categories]]
key = "brand"
label = "Brand"
weight = 1
[[categories]]
key = "larm"
label = "Falsklarm"
weight = 1
visible_to = ["räddningstjänst"]
"""
    ok = parse_config(base + '[category_order]\nnattvandrare = ["brand"]\n')
    assert ok.category_order["nattvandrare"] == ["brand"]
    for bad, where in [('nattvandrare = ["okand"]', "category_order.nattvandrare[0]"),
                       ('nattvandrare = ["brand", "brand"]', "category_order.nattvandrare[1]"),
                       ('nattvandrare = ["larm"]', "category_order.nattvandrare[0]")]:
        with pytest.raises(Exception) as problem:
            parse_config(base + f"[category_order]\n{bad}\n")
        assert where in str(problem.value)


# ---------------------------------------------------------------- 2. delning

async def to_sharing(person, *, text_step="Hoppa över"):
    await person.send("/rapport")
    await walk(person, ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                        "3 – Allvarligt", text_step])
    return person.last_with_buttons


async def test_sharing_in_plain_words_and_the_last_choice_preselected(bot):
    await registered(bot, 9201, "Per", role="coordinator", org_key="nattvandrarna")
    anna = await registered(bot, 9202)
    step = await to_sharing(anna)
    assert "Förmedlad" not in step["text"] and "Egen" not in step["text"]
    assert keyboard_rows(step)[0] == [ALL] and [OWN] in keyboard_rows(step)
    summary = await anna.click(OWN)  # one tap
    assert "Sammanfattning" in summary["text"] and OWN in summary["text"]
    await anna.click("✅ Skicka")

    step = await to_sharing(anna)  # her last choice comes first and is chosen for her
    assert keyboard_rows(step)[0] == [OWN]
    assert "förra rapport" in step["text"]
    [dialog] = await rows(bot, Dialog, Dialog.status == "open")
    assert dialog.data["sharing"] == flow.EGEN
    summary = await anna.click(ALL)
    assert ALL in summary["text"]


async def test_an_egen_last_choice_without_a_coordinator_is_still_steered_to_all(bot):
    bo = await registered(bot, 9203, "Bo", org_key="securitas")
    await file_report(bo, sharing=OWN)  # allowed, with the warning
    [report] = await rows(bot, Report)
    assert report.sharing == flow.EGEN
    step = await to_sharing(bo)
    assert "ingen samordnare" in step["text"]
    assert keyboard_rows(step)[0] == [ALL]
    [dialog] = await rows(bot, Dialog, Dialog.status == "open")
    assert dialog.data["sharing"] == flow.FORMEDLAD


# ---------------------------------------------------------------- 3. a position in one tap

async def test_position_button_at_the_place_step_stores_the_known_place(bot, fake):
    anna = await registered(bot, 9301)
    await anna.send("/rapport")
    place = await anna.click("Vivalla")
    [shown] = position_keyboards(fake, 9301)
    assert shown["buttons"][0]["text"] == POSITION
    assert shown["markup"].get("resize_keyboard") is True
    assert "📎" not in anna.last_with_buttons["text"]
    assert len(open_position_prompts(fake, 9301)) == 1
    assert place is not None

    what = await anna.share_location(*VIVALLASKOLAN)
    assert "Vad" in what["text"] and "Vivallaskolan" in what["text"]
    assert open_position_prompts(fake, 9301) == []  # the keyboard left with its step
    await walk(anna, ["☐ Skadegörelse", "Klar ✔", "3–5", "Nu", "3 – Allvarligt",
                      "Hoppa över", ALL])
    await anna.click("✅ Skicka")
    [report] = await rows(bot, Report)
    assert (report.area_key, report.place_key, report.lat) == ("vivalla", "viv_skola", None)
    assert not COORDINATES.search(all_bot_texts(fake, 9301))


async def test_leaving_the_place_step_by_button_removes_the_position_keyboard(bot, fake):
    anna = await registered(bot, 9302)
    await anna.send("/rapport")
    await anna.click("Vivalla")
    assert len(open_position_prompts(fake, 9302)) == 1
    await anna.click("Vivallaskolan")
    assert open_position_prompts(fake, 9302) == []
    await anna.click("◀ Tillbaka")  # back at the place step: offered again
    assert len(open_position_prompts(fake, 9302)) == 1
    await anna.click("✖ Avbryt")
    assert open_position_prompts(fake, 9302) == []


async def test_a_position_in_another_area_asks_which_is_right(bot, fake):
    anna = await registered(bot, 9303)
    await anna.send("/rapport")
    await anna.click("Vivalla")
    question = await anna.share_location(*OXHAGSSKOLAN)
    assert "Oxhagen" in question["text"] and "Vivalla" in question["text"]
    assert "Oxhagen" in anna.buttons(question) and "Vivalla" in anna.buttons(question)
    what = await anna.click("Oxhagen")
    assert "Vad" in what["text"] and "Oxhagsskolan" in what["text"]
    await walk(anna, ["☐ Skadegörelse", "Klar ✔", "3–5", "Nu", "3 – Allvarligt",
                      "Hoppa över", ALL])
    await anna.click("✅ Skicka")
    [report] = await rows(bot, Report)
    assert (report.area_key, report.place_key) == ("oxhagen", "oxh_skola")
    assert not COORDINATES.search(all_bot_texts(fake, 9303))


async def test_a_position_far_from_known_places_shows_no_coordinates(bot, fake):
    anna = await registered(bot, 9304)
    await anna.send("/rapport")
    await anna.click("Vivalla")
    await anna.share_location(*NOWHERE_NEAR)
    summary = await walk(anna, ["☐ Skadegörelse", "Klar ✔", "3–5", "Nu", "3 – Allvarligt",
                                "Hoppa över", ALL])
    assert "delad position" in summary["text"]
    assert not COORDINATES.search(all_bot_texts(fake, 9304))
    await anna.click("✅ Skicka")
    [report] = await rows(bot, Report)
    assert report.lat == NOWHERE_NEAR[0] and report.place_key is None


async def test_a_position_shared_outside_a_dialog_starts_a_report_there(bot, fake):
    anna = await registered(bot, 9305)
    what = await anna.share_location(*STORTORGET)
    assert "Vad" in what["text"] and "Centrum" in what["text"] and "Stortorget" in what["text"]
    await walk(anna, ["☐ Skadegörelse", "Klar ✔", "3–5", "Nu", "3 – Allvarligt",
                      "Hoppa över", ALL])
    await anna.click("✅ Skicka")
    [report] = await rows(bot, Report)
    assert (report.area_key, report.place_key) == ("centrum", "cen_stortorget")

    # Far from every known place: the area is asked first, then the report goes on.
    area = await anna.share_location(*NOWHERE_NEAR)
    assert "Område" in area["text"]
    what = await anna.click("Vivalla")
    assert "Vad" in what["text"] and "delad position" in what["text"]
    assert not COORDINATES.search(all_bot_texts(fake, 9305))


# ---------------------------------------------------------------- 4. time as people type it

NOW_LOCAL = datetime.fromisoformat("2026-11-20T21:00:00+01:00")


@pytest.mark.parametrize("typed,expected,day", [
    ("22", "2026-11-19 22:00", "igår"),
    ("kl 22", "2026-11-19 22:00", "igår"),
    ("kl. 20", "2026-11-20 20:00", None),
    ("22.15", "2026-11-19 22:15", "igår"),
    ("2015", "2026-11-20 20:15", None),
    ("20:15", "2026-11-20 20:15", None),
    ("igår 23:15", "2026-11-19 23:15", "igår"),
    ("i går kl 8", "2026-11-19 08:00", "igår"),
    ("i förrgår 21", "2026-11-18 21:00", "i förrgår"),
    ("förrgår 21.30", "2026-11-18 21:30", "i förrgår"),
])
def test_times_people_type(typed, expected, day):
    moment = flow.read_time(typed, NOW_LOCAL)
    assert not isinstance(moment, str), moment
    assert moment.when.strftime("%Y-%m-%d %H:%M") == expected
    assert moment.day == day


@pytest.mark.parametrize("typed", ["kvart i tio", "25", "24:00", "12:61", "", "igår", "123456"])
def test_a_time_that_cannot_be_read_is_explained_with_examples(typed):
    problem = flow.read_time(typed, NOW_LOCAL)
    assert isinstance(problem, str)
    assert "TT:MM" not in problem and "igår 23:15" in problem


async def test_kl_22_later_than_now_is_yesterday_in_the_summary(bot):
    anna = await registered(bot, 9401)  # the clock is 21:00 local
    await anna.send("/rapport")
    prompt = await walk(anna, ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5",
                               "Ange tid (skriv)"])
    assert "TT:MM" not in prompt["text"] and "igår 23:15" in prompt["text"]
    bad = await anna.send("kvart i tio")
    assert "TT:MM" not in bad["text"] and "igår 23:15" in bad["text"]
    severity = await anna.send("kl 22")
    assert "igår" in severity["text"]  # told at once
    summary = await walk(anna, ["3 – Allvarligt", "Hoppa över", ALL])
    assert "igår 22:00" in summary["text"]
    await anna.click("✅ Skicka")
    [report] = await rows(bot, Report)
    local = report.occurred_at.astimezone(bot.config.tz)
    assert local.strftime("%d %H:%M") == "19 22:00"


# ---------------------------------------------------------------- 5. a long description

LONG = ("Vid lekplatsen bakom skolan samlades en grupp och kastade sten mot busskuren. "
        * 8).strip()


async def test_a_long_description_is_kept_and_can_be_cut(bot, fake):
    assert len(LONG) > 600
    anna = await registered(bot, 9501)
    await anna.send("/rapport")
    await walk(anna, ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                      "3 – Allvarligt"])
    offer = await anna.send(LONG)
    assert str(len(LONG)) in offer["text"] and "500" in offer["text"]
    assert [m for m in anna.sent if m.get("text") == LONG]  # still in the chat
    cut = await anna.click("Spara de första 500 tecknen")
    assert "Delning" in cut["text"]
    assert not [m for m in anna.sent if m.get("text") == LONG]  # only now deleted
    summary = await anna.click(ALL)
    assert "Vid lekplatsen bakom skolan" in summary["text"]
    await anna.click("✅ Skicka")
    [report] = await rows(bot, Report)
    assert 400 < len(report.text) <= 500 and LONG.startswith(report.text.rstrip("…"))


async def test_a_long_description_can_be_written_shorter(bot, fake):
    anna = await registered(bot, 9502)
    await anna.send("/rapport")
    await walk(anna, ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                      "3 – Allvarligt"])
    await anna.send(LONG)
    again = await anna.click("Skriv en kortare")
    assert "Beskrivning" in again["text"]
    assert [m for m in anna.sent if m.get("text") == LONG]  # kept to copy from
    await anna.send("Grupp kastade sten mot busskuren.")
    kept = [m.get("text") for m in anna.sent]
    assert LONG not in kept and "Grupp kastade sten mot busskuren." not in kept
    summary = await anna.click(ALL)
    assert "Grupp kastade sten mot busskuren." in summary["text"]


# ---------------------------------------------------------------- 6. /mina_rapporter → Ändra

async def test_changing_a_sent_report_goes_straight_to_the_edit_menu(bot):
    anna = await registered(bot, 9601)
    await file_report(anna, sharing=ALL)
    await anna.send("/mina_rapporter")
    menu = await anna.click("Ändra R-2026-000001")
    assert "Ändra rapport R-2026-000001 – vad vill du ändra?" in menu["text"]
    assert "Allvar" in anna.buttons(menu) and "✖ Avbryt" in anna.buttons(menu)

    cancelled = await anna.click("✖ Avbryt")
    assert "Ändringen avbröts – R-2026-000001 är oförändrad" in cancelled["text"]
    assert "Inget sparades" not in cancelled["text"]
    [report] = await rows(bot, Report)
    assert report.withdrawn_at is None

    await anna.send("/mina_rapporter")
    await anna.click("Ändra R-2026-000001")
    await anna.click("◀ Tillbaka")
    unchanged = await anna.click("✅ Skicka")
    assert "Inget ändrat" in unchanged["text"] and "Ändrad" not in unchanged["text"]

    await anna.send("/mina_rapporter")
    await anna.click("Ändra R-2026-000001")
    await walk(anna, ["Allvar", "4 – Mycket allvarligt"])
    changed = await anna.click("✅ Skicka")
    assert "Ändrad – R-2026-000001" in changed["text"]
    [report] = await rows(bot, Report)
    assert report.severity == 4
    assert len(await rows(bot, ReportCategory)) == 1


# ---------------------------------------------------------------- 7. the checklist

async def coordinator(bot, user_id):
    return await registered(bot, user_id, "Kim", role="coordinator", org_key="kommunen")


async def test_checklist_vet_ej_is_not_counted_and_shown_as_unanswered(bot):
    kim = await coordinator(bot, 9701)
    await kim.send("/checklista")
    await kim.click("Vivalla")
    for s in STATEMENTS:
        assert "Vet ej" in kim.buttons()
        await kim.click("Vet ej" if s.number in (3, 14) else scale_label(2))
    done = kim.last
    assert "är klar" in done["text"]
    assert "Summa: 36 av 72" in done["text"]
    assert "Vet ej" in done["text"] and "3, 14" in done["text"]
    [row] = await rows(bot, Checklist)
    assert row.status == "done"


async def test_checklist_restart_asks_before_wiping_the_answers(bot):
    kim = await coordinator(bot, 9702)
    await kim.send("/checklista")
    await kim.click("Oxhagen")
    for _ in range(5):
        await kim.click(scale_label(2))
    await kim.click("💾 Spara och fortsätt senare")
    await kim.send("/checklista")
    await kim.click("Oxhagen")
    ask = await kim.click("↺ Börja om")
    assert "5" in ask["text"] and "tas bort" in ask["text"]
    [row] = await rows(bot, Checklist)
    assert len(row.answers) == 5 and row.status == "draft"
    kept = await kim.click("Nej, fortsätt")
    assert "Påstående 6 av 20" in kept["text"]
    await kim.click("💾 Spara och fortsätt senare")

    await kim.send("/checklista")
    await kim.click("Oxhagen")
    await kim.click("↺ Börja om")
    fresh = await kim.click("Ja, börja om")
    assert "Påstående 1 av 20" in fresh["text"]
    old, new = await rows(bot, Checklist)
    assert (old.status, new.status, new.answers) == ("cancelled", "draft", {})
