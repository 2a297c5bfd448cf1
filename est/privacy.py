"""Keep personal data out of free text from the street.

The kommun is controller for everything reporters type (GDPR). EST is about places and
situations, not people, so personnummer are refused outright and contact details masked
before anything is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

EMAIL_PLACEHOLDER = "[e-post borttagen]"
PHONE_PLACEHOLDER = "[telefonnummer borttaget]"

_PERSONNUMMER_RE = re.compile(
    r"(?<!\d)"
    r"(?P<century>1[89]|20)?"
    r"(?P<yy>\d\d)(?P<mm>\d\d)(?P<dd>\d\d)"
    r"(?:[ \t]*[-+–][ \t]*|[ ])?"
    r"(?P<serial>\d{4})"
    r"(?!\d)"
)

_EMAIL_RE = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")

# One optional separator between digits: a space, or a dash with optional spaces around it.
_SEP = r"(?:[ \u00a0]?[-–][ \u00a0]?|[ \u00a0])?"
_PHONE_RE = re.compile(
    # Only at the start of a token, so digits inside dates, sums and words are left alone.
    r"(?<![\w+\-–])(?:"
    # +46 70 123 45 67, 0046 70..., +46 (0)70...
    rf"(?:\+|00)46{_SEP}(?:\(0\){_SEP})?[1-9](?:{_SEP}\d){{5,8}}"
    # other countries: +44 20 7946 0958
    rf"|(?:\+|00)(?!46)[1-9](?:{_SEP}\d){{6,13}}"
    # (019) 12 34 56
    rf"|\(0[1-9]\d{{0,2}}\){_SEP}\d(?:{_SEP}\d){{4,7}}"
    # 070-123 45 67, 019-12 34 56, 08-123 456 78: trunk 0 and 7 to 9 more digits, but not a
    # date such as 05-11-2026 (no Swedish area code is "05")
    rf"|(?!0[1-9]([-– ])[0-3]\d\1(?:19|20)\d\d)0[1-9](?:{_SEP}\d){{6,8}}"
    r")(?!\d)"
)


def _plausible_date(century: str | None, yy: str, mm: str, dd: str) -> bool:
    day = int(dd)
    if day > 60:  # samordningsnummer: day of birth + 60
        day -= 60
    years = [int(century + yy)] if century else [1900 + int(yy), 2000 + int(yy)]
    for year in years:
        try:
            date(year, int(mm), day)
        except ValueError:
            continue
        return True
    return False


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(digits):
        product = int(char) * (2 if i % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    return total % 10 == 0


def find_personnummer(text: str) -> list[str]:
    """Personnummer and samordningsnummer in ``text``, as written.

    Date and check digit must both be valid, so order numbers and the like rarely match.
    """
    found = []
    for match in _PERSONNUMMER_RE.finditer(text):
        parts = match.group("century", "yy", "mm", "dd")
        ten_digits = "".join(match.group("yy", "mm", "dd", "serial"))
        if _plausible_date(*parts) and _luhn_ok(ten_digits):
            found.append(match.group(0))
    return found


@dataclass(frozen=True)
class MaskResult:
    text: str
    masked_phone: int
    masked_email: int


def mask_contact_details(text: str) -> MaskResult:
    """Replace e-mail addresses and phone numbers; times, dates and counts stay."""
    # E-mail first: an address may contain digits that look like a phone number.
    text, emails = _EMAIL_RE.subn(EMAIL_PLACEHOLDER, text)
    text, phones = _PHONE_RE.subn(PHONE_PLACEHOLDER, text)
    return MaskResult(text=text, masked_phone=phones, masked_email=emails)


@dataclass(frozen=True)
class FreeTextResult:
    ok: bool
    text: str | None
    problem: str | None
    notice: str | None


def _refuse(problem: str) -> FreeTextResult:
    return FreeTextResult(ok=False, text=None, problem=problem, notice=None)


def _notice(masked: MaskResult) -> str | None:
    parts = []
    if masked.masked_phone:
        parts.append(f"{masked.masked_phone} telefonnummer")
    if masked.masked_email:
        noun = "e-postadress" if masked.masked_email == 1 else "e-postadresser"
        parts.append(f"{masked.masked_email} {noun}")
    if not parts:
        return None
    return (
        f"Av integritetsskäl togs {' och '.join(parts)} bort ur texten. "
        "Beskriv platser och situationer, inte personer."
    )


def check_free_text(text: str, max_len: int = 500) -> FreeTextResult:
    """Decide whether free text may be stored, and in which form.

    A personnummer refuses the whole text rather than being masked: it signals that the
    report is about a person, which the reporter should rephrase. The problem message never
    repeats the number, so it does not end up in the chat history twice.
    """
    text = text.strip()
    if not text:
        return _refuse("Texten är tom.")
    if find_personnummer(text):
        return _refuse(
            "Texten sparades inte: den innehåller något som ser ut som ett personnummer. "
            "Personnummer får inte lagras här. Beskriv platser och situationer, inte personer, "
            "och skicka texten igen utan numret."
        )
    masked = mask_contact_details(text)
    # Checked after masking, so the stored text is what respects the limit.
    if len(masked.text) > max_len:
        return _refuse(
            f"Texten är för lång ({len(masked.text)} tecken, högst {max_len}). "
            "Korta ner den och skicka igen."
        )
    return FreeTextResult(ok=True, text=masked.text, problem=None, notice=_notice(masked))
