"""Issue 8, section 4: personal data in typed text, tried as an attacker would.

Personnummer hidden by odd separators, phone numbers in unusual shapes, control characters
that break exports and leak into logs, refusals that leave the number in the chat, and
dates or arguments far out of range. Unit tests in est/ where the rule lives; the rest
through the real Application against the fake Telegram.
"""

from __future__ import annotations

import logging
from datetime import datetime

import pytest
from sqlmodel import select

from est import export as ex
from est import privacy
from est.planning import DateProblem, parse_period
from est.privacy import (
    PHONE_PLACEHOLDER,
    check_free_text,
    find_personnummer,
    mask_contact_details,
)
from storage.models import AreaLevel, Dialog, Insats, Report
from tests.conftest import registered
from tests.test_export_bot import csv_rows, documents, stored_report, xlsx_text
from tests.test_levels_bot import GROUP, coordinator_group

PN = "811218-9876"  # date and check digit valid
REFUSED_NOT_DELETED = "Jag kunde inte ta bort ditt meddelande – ta bort det själv"


# ---------------------------------------------------------------- 1. personnummer


@pytest.mark.parametrize(
    ("separator", "name"),
    [
        ("\u00a0", "no-break space"),
        ("\u2011", "non-breaking hyphen"),
        ("\u2212", "minus sign"),
        ("\u2014", "em dash"),
        ("\u200b", "zero-width space"),
        ("\u00ad", "soft hyphen"),
        ("  ", "two spaces"),
        ("\n", "line break"),
        ("_", "underscore"),
        ("/", "slash"),
        ("\u202f", "narrow no-break space"),
        (" \u2013 ", "en dash with spaces"),
    ],
)
def test_personnummer_with_any_separator_is_found(separator, name):
    number = f"811218{separator}9876"
    assert find_personnummer(f"Killen {number} kastade sten") == [number], name
    assert not check_free_text(f"Killen {number} kastade sten").ok, name


def test_invisible_characters_inside_the_digits_hide_nothing():
    number = "8112\u200b18\u00ad-98\u200d76"
    assert find_personnummer(f"nr {number}") == [number]
    assert not check_free_text("nr １９８１１２１８−９８７６").ok  # fullwidth digits, minus


@pytest.mark.parametrize("number", ["811218-9875", "19811218-9870", "8112189870",
                                    "701063-2390", "811218 9871", "811218+9872"])
def test_a_mistyped_check_digit_is_still_refused(number):
    """A wrong check digit is a typo, not a reason to store what points at a person."""
    assert find_personnummer(f"Pojken {number} sågs") == [number]
    assert not check_free_text(f"Pojken {number} sågs").ok


@pytest.mark.parametrize("text", [
    "ordernummer 1234567890",  # month 34
    "811318-9876 är inget datum",  # month 13
    "810230-1234",  # 30 February
    "den 2026-11-22 1930",
    "2026-11-22 kl 19:30, 150 personer",
    "postnummer 702 10, buss 11",
    "lat 59.2737, lon 15.2133",
])
def test_ordinary_numbers_are_not_personnummer(text):
    assert find_personnummer(text) == []
    assert check_free_text(text).ok


def test_a_mobile_number_written_without_spaces_is_masked_not_refused():
    result = check_free_text("Ring 0701234567 om det händer något")
    assert result.ok and result.text == f"Ring {PHONE_PLACEHOLDER} om det händer något"


async def test_a_report_with_a_disguised_personnummer_is_refused_and_deleted(bot):
    anna = await registered(bot, 8101)
    await anna.send("/rapport")
    for label in ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                  "3 – Allvarligt"]:
        await anna.click(label)
    reply = await anna.send("Killen 811218\u20119876 kastade sten")
    assert "personnummer" in reply["text"]
    assert not any("811218" in (m.get("text") or "") for m in anna.sent)
    async with bot.services.db.session() as session:
        dialogs = (await session.exec(select(Dialog))).all()
    assert all("811218" not in str(d.data) for d in dialogs)


# ---------------------------------------------------------------- 2. phone numbers


@pytest.mark.parametrize("phone", [
    "070.123.45.67",
    "070\u20111234567",
    "46701234567",
    "070\u202f123\u202f45\u202f67",
    "+46\u202f70\u202f123\u202f45\u202f67",
    "070\u2212123 45 67",
    "070\u00a0123\u00a045\u00a067",
    "08.123.456.78",
])
def test_phone_numbers_in_unusual_shapes_are_masked(phone):
    result = mask_contact_details(f"Ring {phone}, sen kom 3 till.")
    assert result.text == f"Ring {PHONE_PLACEHOLDER}, sen kom 3 till."
    assert result.masked_phone == 1


@pytest.mark.parametrize("text", [
    "05.11.2026 vid skolan",
    "22.30\u201101.00 lugnt",
    "07.30-09.00 vid torget",
    "kl 07.30, 150 personer",
    "1.500.000 kr i skador",
    "den 20.11.2026 kl 21.00",
    "4 670 personer i området",
    "0.5 promille",
])
def test_dates_times_and_sums_stay(text):
    assert mask_contact_details(text).text == text


def test_normalise_maps_back_to_the_original():
    norm = privacy.normalise("a\u00a0\u00a0b\u200bc\u2014d")
    assert norm.text == "a bc-d"
    assert norm.span(0, len(norm.text)) == (0, 8)


# ---------------------------------------------------------------- 3. control characters


def test_control_characters_are_stripped_at_intake():
    assert privacy.clean_typed_text("a\x0bb\x1bc\x00d\r\ne\tf\x7fg\x85h") == "abcd\ne fg\nh"
    result = check_free_text("Stenar\x0b vid\x00 porten\x1b[31m\nrött")
    assert result.ok and result.text == "Stenar vid porten[31m\nrött"


def test_every_exporter_survives_control_characters_in_a_row(config):
    from datetime import UTC

    record = ex.ReportRecord(
        reference="R-1", received_at=datetime(2026, 11, 20, tzinfo=UTC),
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC), area_key="vivalla",
        place_key=None, place_name="Gården\x0b bakom\x00", lat=None, lon=None,
        category_keys=("skadegorelse",), people=None, severity=3, sharing="förmedlad",
        org_key="kommunen", text="=Stenar\x0b\x1b vid \ud800porten\uffff", withdrawn=False,
    )
    export = ex.build_export([record], config, "kommunen",
                             ex.Period(datetime(2026, 11, 20).date(),
                                       datetime(2026, 11, 20).date()))
    assert export.rows == 1 and set(export.files) == set(ex.FORMATS)
    text = xlsx_text(export.files["xlsx"])
    assert "=Stenar vid porten" in text and "Gården bakom" in text
    assert csv_rows(export.files["csv"])["R-1"]["beskrivning"] == "'=Stenar vid porten"


def test_a_row_that_cannot_be_read_is_left_out_not_the_whole_export(config):
    from dataclasses import replace
    from datetime import UTC

    good = ex.ReportRecord(
        reference="R-1", received_at=datetime(2026, 11, 20, tzinfo=UTC),
        occurred_at=datetime(2026, 11, 20, tzinfo=UTC), area_key="vivalla",
        place_key=None, place_name=None, lat=None, lon=None, category_keys=(),
        people=None, severity=3, sharing="förmedlad", org_key="kommunen", text="Lugnt")
    broken = replace(good, reference="R-2", occurred_at=None)  # a row no export can place
    day = datetime(2026, 11, 20).date()
    export = ex.build_export([good, broken], config, "kommunen", ex.Period(day, day))
    assert (export.rows, export.skipped) == (1, 1)
    assert set(csv_rows(export.files["csv"])) == {"R-1"}


async def test_a_control_character_in_a_report_breaks_no_export_and_logs_no_text(bot, fake,
                                                                                 caplog):
    caplog.set_level(logging.INFO)
    anna = await registered(bot, 8301)
    # A row stored before intake was cleaned (or written by another path).
    # PostgreSQL cannot store NUL at all; SQLite can, so there the row has one too.
    nul = "\x00" if bot.services.db.url.get_backend_name() == "sqlite" else ""
    ref = await stored_report(bot, 8301, area="vivalla", place_key="viv_skola",
                              categories=["skadegorelse"], text=f"Hemlig\x0b fritext\x1b{nul}")
    karin = await registered(bot, 8302, "Karin", role="coordinator", org_key="kommunen")
    await karin.send("/export 2026-11-14 2026-11-20")
    files = documents(fake, 8302)
    assert set(files) == set(ex.FORMATS)
    assert csv_rows(files["csv"][1])[ref]["beskrivning"] == "Hemlig fritext"
    assert any(t.startswith("✅ Exporten") for t in karin.texts())
    assert "Hemlig" not in caplog.text
    del anna


async def test_a_typed_control_character_never_reaches_the_database(bot):
    anna = await registered(bot, 8303)
    await anna.send("/rapport")
    for label in ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                  "3 – Allvarligt"]:
        await anna.click(label)
    await anna.send("Stenar\x0b vid\x00 porten\x1b")
    await anna.click("Alla samordnare")
    assert "Mottagen" in (await anna.click("✅ Skicka"))["text"]
    async with bot.services.db.session() as session:
        [report] = (await session.exec(select(Report))).all()
    assert report.text == "Stenar vid porten"


async def test_a_failed_export_logs_no_free_text(bot, fake, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    karin = await registered(bot, 8304, "Karin", role="coordinator", org_key="kommunen")
    await stored_report(bot, 8304, area="vivalla", place_key="viv_skola",
                        categories=["skadegorelse"], text="Hemlig fritext från rapporten")

    def broken(records, *_args, **_kwargs):
        raise ValueError(f"bad row: {records[0].text}")  # as a library error might

    monkeypatch.setattr(ex, "build_export", broken)
    await karin.send("/export 2026-11-14 2026-11-20")
    assert "kunde inte tas fram" in karin.last["text"]
    assert "export" in caplog.text and "ValueError" in caplog.text
    assert "Hemlig" not in caplog.text


async def test_an_error_in_a_handler_logs_no_free_text(bot, caplog, monkeypatch):
    import bot.features.levels.niva as niva

    caplog.set_level(logging.INFO)
    per = await registered(bot, 8305, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva vivalla")
    await per.click("🟡 Gult läge")

    def broken(text):
        raise ValueError(f"could not check {text!r}")

    monkeypatch.setattr(niva, "check_reason", broken)
    await per.send("Hemligt skäl om grannen")
    assert "ValueError" in caplog.text
    assert "Hemligt" not in caplog.text


# ---------------------------------------------------------------- 4. /niva refusals


async def levels(bot) -> list[AreaLevel]:
    async with bot.services.db.session() as session:
        return list((await session.exec(select(AreaLevel))).all())


async def test_a_personnummer_as_niva_reason_is_deleted_in_private(bot, fake):
    per = await registered(bot, 8401, "Per", role="coordinator", org_key="kommunen")
    await per.send("/niva vivalla")
    await per.click("🟡 Gult läge")
    reply = await per.send(f"Killen {PN} bråkar")
    assert "personnummer" in reply["text"] and "9876" not in reply["text"]
    assert REFUSED_NOT_DELETED not in reply["text"]
    assert not any("9876" in (m.get("text") or "") for m in per.sent)
    assert await levels(bot) == []


async def test_a_personnummer_as_niva_reason_in_a_group_says_it_was_not_deleted(bot, fake):
    await coordinator_group(bot, fake)
    await registered(bot, 8402, "Per", role="coordinator", org_key="kommunen")
    fake.send_text(8402, "/niva vivalla", chat_id=GROUP)
    await bot.settle()
    fake.click(8402, fake.last_bot_message(GROUP), "🔴 Rött läge", chat_id=GROUP)
    await bot.settle()
    prompt = fake.last_bot_message(GROUP)
    fake.send_text(8402, f"Killen {PN} bråkar", chat_id=GROUP, reply_to=prompt["message_id"])
    await bot.settle()
    reply = fake.last_bot_message(GROUP)
    assert "personnummer" in reply["text"] and "9876" not in reply["text"]
    assert REFUSED_NOT_DELETED in reply["text"]
    assert await levels(bot) == []


async def test_registering_a_group_says_the_bot_must_be_admin_to_delete(bot, fake):
    await coordinator_group(bot, fake)
    text = fake.last_bot_message(GROUP)["text"]
    assert "administratör" in text and "ta bort meddelanden" in text


async def test_a_personnummer_in_the_niva_argument_is_refused_deleted_and_not_echoed(bot,
                                                                                     fake):
    per = await registered(bot, 8403, "Per", role="coordinator", org_key="kommunen")
    reply = await per.send(f"/niva vivalla {PN} kastade sten")
    assert "personnummer" in reply["text"] and "9876" not in reply["text"]
    assert not any("9876" in (m.get("text") or "") for m in per.sent)
    assert await levels(bot) == []

    await coordinator_group(bot, fake)
    fake.send_text(8403, f"/niva vivalla {PN}", chat_id=GROUP)
    await bot.settle()
    reply = fake.last_bot_message(GROUP)
    assert "9876" not in reply["text"] and REFUSED_NOT_DELETED in reply["text"]


# ---------------------------------------------------------------- 5. out of range


async def test_export_dates_far_out_of_range_get_a_clear_answer(bot, fake):
    karin = await registered(bot, 8501, "Karin", role="coordinator", org_key="kommunen")
    for typed in ("0001-01-01 0001-01-02", "9999-12-30 9999-12-31"):
        reply = await karin.send(f"/export {typed}")
        assert "utanför" in reply["text"], typed
        assert "⏳" not in reply["text"]
    assert not [name for name, _ in fake.calls if name == "sendDocument"]
    assert not [name for name, _ in fake.calls if name == "editMessageText"]


def test_export_period_bounds_never_overflow():
    for start, end in (("0001-01-01", "0001-01-02"), ("9999-12-30", "9999-12-31")):
        with pytest.raises(ex.PeriodError, match="utanför"):
            ex.parse_period(f"{start} {end}")


@pytest.mark.parametrize("typed", ["9999-12-31 23 – 01", "31/12/9999 22 - 03",
                                   "0001-01-01 23 – 01", "1/1/0001 22 - 03"])
def test_insats_periods_far_out_of_range_are_refused(typed):
    from zoneinfo import ZoneInfo

    now = datetime(2026, 11, 20, 21, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    with pytest.raises(DateProblem):
        parse_period(typed, now)


async def test_an_insats_period_ending_in_year_9999_gets_a_clear_answer(bot):
    karin = await registered(bot, 8502, "Karin", role="coordinator", org_key="kommunen")
    await karin.send("/insats ny")
    await karin.click("Oxhagen")
    await karin.click("Hela området")
    await karin.send("Ny belysning")
    await karin.click("Örebro kommun")
    await karin.click("Skriv period")
    reply = await karin.send("9999-12-31 23 – 01")
    assert "Kontrollera datumet" in reply["text"]
    assert "gick fel" not in reply["text"].lower()
    async with bot.services.db.session() as session:
        assert (await session.exec(select(Insats))).all() == []
    confirm = await karin.send("i morgon 18-23")
    assert "lör 21/11 18:00–23:00" in confirm["text"]


async def test_a_4000_character_niva_argument_gets_a_clear_answer(bot, fake):
    per = await registered(bot, 8503, "Per", role="coordinator", org_key="kommunen")
    reply = await per.send("/niva " + "x" * 4000)
    assert "Jag känner inte till området" in reply["text"]
    assert len(reply["text"]) < 1000
    assert await levels(bot) == []
