"""Keep personal data out of free text from the street.

The kommun is controller for everything reporters type (GDPR). EST is about places and
situations, not people, so personnummer are refused outright and contact details masked
before anything is stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

EMAIL_PLACEHOLDER = "[e-post borttagen]"
PHONE_PLACEHOLDER = "[telefonnummer borttaget]"

# --- intake -----------------------------------------------------------------------------

# Control characters (C0 but newline, DEL, C1), lone surrogates and the two characters XML
# (and so XLSX) cannot hold. Pasted text brings them along; nothing shows them.
_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAK_RE = re.compile("\r\n?|[\u0085\u2028\u2029]")


def clean_typed_text(text: str) -> str:
    """Typed text as it may be kept: line breaks as newlines, tabs as spaces, no other
    control characters, composed (NFC). Every free text the bot stores passes here."""
    text = _LINE_BREAK_RE.sub("\n", text).replace("\t", " ")
    return unicodedata.normalize("NFC", _CONTROL_RE.sub("", text))


# --- normalisation for matching ---------------------------------------------------------

# Dashes that are not in Unicode's dash category (Pd): minus signs, hyphen bullet.
_OTHER_DASHES = frozenset("\u2212\u2043\u02d7\u207b\u208b")
_INVISIBLE = frozenset(("Cc", "Cf", "Cs", "Mn", "Me"))


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """What one character is to the matchers: one space for any space or line break, ``-``
    for any dash, ASCII for any digit, nothing for invisible characters (zero-width
    space, soft hyphen, combining marks), the compatibility form for the rest (fullwidth)."""
    if char.isspace():
        return " "
    category = unicodedata.category(char)
    if category in _INVISIBLE:
        return ""
    if category == "Pd" or char in _OTHER_DASHES:
        return "-"
    digit = unicodedata.decimal(char, None)
    if digit is not None:
        return str(digit)
    compatible = unicodedata.normalize("NFKC", char)
    if compatible != char:
        return "".join(_fold(part) if part != char else part for part in compatible)
    return char


@dataclass(frozen=True)
class Normalised:
    """Text as the matchers see it, and where each of its characters came from.

    ``starts[i]:ends[i]`` is the part of the original that became character ``i`` (a run
    of spaces becomes one space; invisible characters become nothing), so a match in
    ``text`` can be cut out of the original.
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of ``text[start:end]`` (``end > start``)."""
        return self.starts[start], self.ends[end - 1]


def normalise(text: str) -> Normalised:
    """The one normalisation every matcher (personnummer, phone, e-mail) works on."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        for folded in _fold(char):
            if folded == " " and chars and chars[-1] == " ":
                ends[-1] = index + 1
                continue
            chars.append(folded)
            starts.append(index)
            ends.append(index + 1)
    return Normalised("".join(chars), tuple(starts), tuple(ends))


Finder = Callable[[str], Iterator[tuple[int, int]]]


def _replace(text: str, finder: Finder, placeholder: str) -> tuple[str, int]:
    """Replace what ``finder`` finds in the normalised text, in the original text."""
    norm = normalise(text)
    parts, done, count = [], 0, 0
    for start, end in finder(norm.text):
        first, last = norm.span(start, end)
        parts += [text[done:first], placeholder]
        done, count = last, count + 1
    parts.append(text[done:])
    return "".join(parts), count


# --- the matchers (on normalised text) --------------------------------------------------

_PERSONNUMMER_RE = re.compile(
    r"(?<!\d)"
    r"(?P<century>1[89]|20)?"
    r"(?P<yy>\d\d)(?P<mm>\d\d)(?P<dd>\d\d)"
    # - or + (over a hundred years), and the separators people use instead of a dash
    r"(?P<sep> ?[-+_/.] ?| )?"
    r"(?P<serial>\d{4})"
    r"(?!\d)"
)

_EMAIL_RE = re.compile(r"(?<![\w.%+\-])[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")

# One optional separator between digits: a space, or a dash with optional spaces around it.
_SEP = r"(?: ?- ?| )?"
_PHONE_RE = re.compile(
    # Only at the start of a token, so digits inside dates, sums and words are left alone.
    r"(?<![\w+\-])(?:"
    # +46 70 123 45 67, 0046 70..., +46 (0)70...
    rf"(?:\+|00)46{_SEP}(?:\(0\){_SEP})?[1-9](?:{_SEP}\d){{5,8}}"
    # other countries: +44 20 7946 0958
    rf"|(?:\+|00)(?!46)[1-9](?:{_SEP}\d){{6,13}}"
    # a Swedish mobile number with the country code but no + or 00: 46701234567
    rf"|46{_SEP}(?:\(0\){_SEP})?7[02369](?:{_SEP}\d){{7}}"
    # (019) 12 34 56
    rf"|\(0[1-9]\d{{0,2}}\){_SEP}\d(?:{_SEP}\d){{4,7}}"
    # 070-123 45 67, 019-12 34 56, 08-123 456 78: trunk 0 and 7 to 9 more digits, but not a
    # date such as 05-11-2026 (no Swedish area code is "05")
    rf"|(?!0[1-9]([- ])[0-3]\d\1(?:19|20)\d\d)0[1-9](?:{_SEP}\d){{6,8}}"
    r")(?!\d)"
)
# 070.123.45.67, 08.123.456.78: dots only, 8 to 10 digits, not a date such as 05.11.2026.
_DOTTED_PHONE_RE = re.compile(
    r"(?<![\w+\-.])(?!0[1-9]\.[0-3]\d\.(?:19|20)\d\d)0[1-9]\d{0,2}(?:\.\d{2,4}){2,4}(?!\.?\d)"
)
_DOTTED_DIGITS = range(8, 11)


def _email_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _EMAIL_RE.finditer(text):
        yield match.span()


def _phone_spans(text: str) -> Iterator[tuple[int, int]]:
    spans = [m.span() for m in _PHONE_RE.finditer(text)]
    spans += [m.span() for m in _DOTTED_PHONE_RE.finditer(text)
              if sum(c.isdigit() for c in m.group()) in _DOTTED_DIGITS]
    done = 0
    for start, end in sorted(spans):
        if start >= done:
            yield start, end
            done = end


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

    Found whatever separates or hides the parts (any space or dash, a line break, ``_``,
    ``/``, zero-width characters): the text is normalised first. The date must be valid,
    so order numbers and the like rarely match; the check digit need not be, because a
    mistyped personnummer still points at a person. One exception: ten digits in a row
    with a wrong check digit that are also a phone number (``0701234567``) are left to
    ``mask_contact_details``, which masks them.
    """
    norm = normalise(text)
    found = []
    for match in _PERSONNUMMER_RE.finditer(norm.text):
        century, yy, mm, dd = match.group("century", "yy", "mm", "dd")
        if not _plausible_date(century, yy, mm, dd):
            continue
        ten_digits = "".join(match.group("yy", "mm", "dd", "serial"))
        if century is None and match.group("sep") is None and not _luhn_ok(ten_digits) \
                and _PHONE_RE.fullmatch(ten_digits):
            continue
        start, end = norm.span(*match.span())
        found.append(text[start:end])
    return found


@dataclass(frozen=True)
class MaskResult:
    text: str
    masked_phone: int
    masked_email: int


def mask_contact_details(text: str) -> MaskResult:
    """Replace e-mail addresses and phone numbers; times, dates and counts stay."""
    # E-mail first: an address may contain digits that look like a phone number.
    text, emails = _replace(text, _email_spans, EMAIL_PLACEHOLDER)
    text, phones = _replace(text, _phone_spans, PHONE_PLACEHOLDER)
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
    text = clean_typed_text(text).strip()
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
