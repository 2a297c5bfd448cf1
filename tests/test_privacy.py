from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from est.privacy import (
    EMAIL_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    check_free_text,
    find_personnummer,
    mask_contact_details,
)


def with_check_digit(nine: str) -> str:
    """Append the Luhn check digit, computed independently of the module under test."""
    total = 0
    for i, char in enumerate(nine):
        product = int(char) * (2 - i % 2)
        total += product // 10 + product % 10
    return nine + str((10 - total % 10) % 10)


def wrong_check_digit(nine: str) -> str:
    right = int(with_check_digit(nine)[-1])
    return nine + str((right + 1) % 10)


# --- personnummer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "811218-9876",
        "811218+9876",
        "8112189876",
        "19811218-9876",
        "198112189876",
        "811218 - 9876",
        "19811218 -9876",
        "811218 9876",
        "701063-2391",  # samordningsnummer: day 03 + 60
    ],
)
def test_finds_personnummer_variants(number):
    assert find_personnummer(f"Pojken med {number} sågs vid torget") == [number]


@pytest.mark.parametrize(
    "number",
    [
        with_check_digit("811318987"),  # month 13
        with_check_digit("811200987"),  # day 0
        with_check_digit("810230987"),  # 30 February
        with_check_digit("810192987"),  # samordningsnummer day 92 - 60 = 32
        "19" + with_check_digit("000229987"),  # 1900 was not a leap year
        "17" + with_check_digit("811218987"),  # no such century
    ],
)
def test_rejects_invalid_numbers(number):
    assert find_personnummer(f"nr {number} ") == []


def test_leap_day_with_unknown_century_is_accepted():
    number = with_check_digit("000229987")  # 2000-02-29 exists
    assert find_personnummer(number) == [number]


def test_longer_digit_runs_are_not_personnummer():
    number = "811218-9876"
    assert find_personnummer("1" + number) == []
    assert find_personnummer(number + "1") == []
    assert find_personnummer("ordernummer 1234567890") == []


@st.composite
def personnummer(draw) -> str:
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)))
    day = born.day + (60 if draw(st.booleans()) else 0)
    nine = f"{born:%y%m}{day:02d}{draw(st.integers(0, 999)):03d}"
    ten = with_check_digit(nine)
    separator = draw(st.sampled_from(["-", "", " - ", "+"]))
    century = f"{born:%Y}"[:2] if draw(st.booleans()) else ""
    return f"{century}{ten[:6]}{separator}{ten[6:]}"


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzåäö ", max_size=30)


@given(personnummer(), words, words)
def test_every_valid_number_is_found(number, before, after):
    assert find_personnummer(f"{before} {number} {after}") == [number]


def test_a_wrong_check_digit_is_still_a_personnummer():
    number = wrong_check_digit("811218987")  # a typo still points at a person
    assert find_personnummer(f"nr {number} ") == [number]


@given(personnummer())
def test_changing_the_check_digit_never_hides_it(number):
    """Refused as a personnummer, or (ten digits that are also a phone number) masked."""
    changed = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert (find_personnummer(changed) == [changed]
            or mask_contact_details(changed).text == PHONE_PLACEHOLDER)


# --- contact details --------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "070-123 45 67",
        "0701234567",
        "070 123 45 67",
        "073-1234567",
        "+46 70 123 45 67",
        "+46701234567",
        "+46 (0)70-123 45 67",
        "0046 70 123 45 67",
        "019-12 34 56",
        "019 - 12 34 56",
        "(019) 12 34 56",
        "08-123 456 78",
        "0590-123 45",
        "+44 20 7946 0958",
    ],
)
def test_masks_phone_numbers(phone):
    result = mask_contact_details(f"Ring {phone}, sen kom 3 till.")
    assert result.text == f"Ring {PHONE_PLACEHOLDER}, sen kom 3 till."
    assert (result.masked_phone, result.masked_email) == (1, 0)


@pytest.mark.parametrize(
    "email",
    ["anna.svensson@orebro.se", "fält_grupp+natt@exempel.org", "x@sub.domän.nu", "AB@C.SE"],
)
def test_masks_email_addresses(email):
    result = mask_contact_details(f"Mejla {email}. Tack")
    assert result.text == f"Mejla {EMAIL_PLACEHOLDER}. Tack"
    assert (result.masked_phone, result.masked_email) == (0, 1)


def test_counts_each_kind():
    result = mask_contact_details("a@b.se, 070-111 22 33 och c@d.se eller 019-12 34 56")
    assert result.masked_email == 2 and result.masked_phone == 2
    assert "@" not in result.text and "070" not in result.text


def test_email_with_digits_is_one_email():
    result = mask_contact_details("0701234567@sms.example.com")
    assert result.text == EMAIL_PLACEHOLDER
    assert result.masked_phone == 0


@pytest.mark.parametrize("after", ["15 personer", "8 personer"])
def test_number_after_phone_stays(after):
    text = f"070 123 45 67 {after}"
    assert mask_contact_details(text).text == f"{PHONE_PLACEHOLDER} {after}"


@pytest.mark.parametrize(
    "text",
    [
        "kl 22:30 vid torget",
        "22.30–01.00 lugnt",
        "den 2026-11-22 kväll",
        "2026-05-11 20 ungdomar",
        "05-11-2026 vid skolan",
        "ca 15 personer",
        "0 personer kvar",
        "år 2026, vecka 47",
        "buss 11 och linje 4",
        "Vivallagatan 12 B och Stortorget 3",
        "postnummer 702 10",
        "lat 59.2737, lon 15.2133",
        "ringde 112 och 114 14",
        "rum 0-24",
    ],
)
def test_leaves_ordinary_numbers_alone(text):
    result = mask_contact_details(text)
    assert result.text == text
    assert (result.masked_phone, result.masked_email) == (0, 0)


street_text = st.text(alphabet="abcåäö ABC0123456789 -+:.@()", max_size=80)


@given(street_text)
def test_masking_is_idempotent(text):
    once = mask_contact_details(text)
    twice = mask_contact_details(once.text)
    assert twice.text == once.text
    assert (twice.masked_phone, twice.masked_email) == (0, 0)


@given(st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=200))
def test_letters_and_spaces_are_untouched(text):
    assert mask_contact_details(text).text == text
    assert find_personnummer(text) == []


@st.composite
def mobile_number(draw) -> str:
    digits = "07" + draw(st.sampled_from("02369")) + draw(st.from_regex(r"\d{7}", fullmatch=True))
    return draw(
        st.sampled_from(
            [
                digits,
                f"{digits[:3]}-{digits[3:6]} {digits[6:8]} {digits[8:]}",
                f"{digits[:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}",
                f"+46 {digits[1:3]} {digits[3:6]} {digits[6:8]} {digits[8:]}",
                f"0046{digits[1:]}",
            ]
        )
    )


@given(mobile_number(), words, words)
def test_every_mobile_number_is_masked(phone, before, after):
    result = mask_contact_details(f"{before}, {phone}, {after}")
    assert result.text == f"{before}, {PHONE_PLACEHOLDER}, {after}"
    assert result.masked_phone == 1


@given(st.times(), st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_timestamps_are_untouched(moment, day):
    text = f"{day:%Y-%m-%d} kl {moment:%H:%M}, {day:%d-%m-%Y} {moment:%H.%M}"
    assert mask_contact_details(text).text == text


# --- check_free_text --------------------------------------------------------------------


def test_clean_text_passes_stripped_without_notice():
    result = check_free_text("  15 ungdomar vid Vivalla torg kl 22:30, lugnt  \n")
    assert result.ok
    assert result.text == "15 ungdomar vid Vivalla torg kl 22:30, lugnt"
    assert result.problem is None and result.notice is None


def test_contact_details_are_masked_with_notice():
    result = check_free_text("Bovärden nås på 070-123 45 67 eller bo@obo.se och bo2@obo.se")
    assert result.ok
    assert result.text == (
        f"Bovärden nås på {PHONE_PLACEHOLDER} eller {EMAIL_PLACEHOLDER} och {EMAIL_PLACEHOLDER}"
    )
    assert result.notice is not None
    assert "1 telefonnummer och 2 e-postadresser" in result.notice


def test_personnummer_refuses_the_text_without_echoing_it():
    result = check_free_text("Killen 811218-9876 kastade sten")
    assert not result.ok and result.text is None
    assert result.problem is not None
    assert "personnummer" in result.problem
    assert "platser och situationer, inte personer" in result.problem
    assert "9876" not in result.problem


def test_too_long_text_is_refused():
    result = check_free_text("a" * 21, max_len=20)
    assert not result.ok
    assert result.problem is not None and "21 tecken" in result.problem
    assert check_free_text("a" * 20, max_len=20).ok


def test_limit_applies_to_the_stored_text():
    text = "x" * 480 + " 070-123 45 67"  # 494 characters typed, longer once masked
    assert len(text) <= 500
    result = check_free_text(text)
    assert not result.ok
    assert result.problem is not None and "för lång" in result.problem


def test_empty_text_is_refused():
    result = check_free_text(" \n\t ")
    assert not result.ok and result.problem == "Texten är tom."


@given(st.text(max_size=300))
def test_accepted_text_is_stripped_masked_and_within_limit(text):
    result = check_free_text(text, max_len=200)
    assert result.ok == (result.problem is None)
    if result.ok:
        assert result.text is not None and len(result.text) <= 200
        assert result.text == result.text.strip()
        assert mask_contact_details(result.text).text == result.text
