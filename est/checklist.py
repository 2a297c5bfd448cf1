"""The warning-signal checklist for social unrest (Bilaga 3, seed 002).

Coordinators rate twenty statements 1–4 for an area, usually before the Thursday meeting.
The wording is the seed's, verbatim: it is a shared instrument, and rewording a question
changes what people answer. A checklist may be half-done; scores are then computed over
the statements answered so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

import holidays
from holidays.constants import DE_FACTO, PUBLIC

CHECKLIST_TITLE = "Varningssignaler/indikatorer på social oro"
SCALE_INSTRUCTION = (
    "Värdera nedanstående i skala 1–4, där 1 stämmer inte alls och 4 stämmer mycket bra"
)
SCALE_ENDPOINTS: Mapping[int, str] = MappingProxyType(
    {1: "stämmer inte alls", 4: "stämmer mycket bra"}
)
MIN_VALUE, MAX_VALUE = 1, 4
# "Vet ej": an answer that is stored (the statement is not asked again) but never counted.
UNKNOWN = 0
UNKNOWN_LABEL = "Vet ej"


@dataclass(frozen=True)
class Statement:
    number: int
    text: str
    group_key: str


@dataclass(frozen=True)
class StatementGroup:
    key: str
    title: str
    statements: tuple[Statement, ...]


def _group(key: str, title: str, first: int, texts: tuple[str, ...]) -> StatementGroup:
    statements = tuple(Statement(first + i, text, key) for i, text in enumerate(texts))
    return StatementGroup(key, title, statements)


GROUPS: tuple[StatementGroup, ...] = (
    _group(
        "polis",
        "Polis och andra aktörer",
        1,
        (
            "Har polisen gjort någon omfattande insats i området som uppfattats som kränkande "
            "eller diskriminerande?",
            "Har polisen gjort ingripande mot enskilda personer som uppfattats som kränkande "
            "eller diskriminerande?",
            "Har några andra aktörer (väktare, trafikvakter, räddningstjänst och andra "
            "myndighetsutövare) hindrats eller blivit utsatta för provokationer?",
        ),
    ),
    _group(
        "kommun",
        "Kommunen/stadsdelen och omvärlden",
        4,
        (
            "Har kommunen/stadsdelen genomfört större neddragningar/förändringar i olika "
            "avseenden (socialtjänst, fritid, skola m fl.) som föranlett missnöjesyttringar?",
            "Finns det social oro i andra stadsdelar av kommunen eller i andra delar av Sverige?",
            "Finns det någon våldsam konflikt i omvärlden (staden, Sverige eller "
            "internationellt) som påverkar kommunen/stadsdelen?",
            "Förekommer politisk aktivitet i form av t.ex. kampanjer, namninsamlingar, "
            "demonstrationer eller ockupationer som tyder på ett missnöje från delar av "
            "befolkningen?",
        ),
    ),
    _group(
        "oro",
        "Tecken på oro",
        8,
        (
            "Har det förekommit stenkastning eller hot mot poliser?",
            "Har det förekommit anlagda bränder i området?",
            "Finns det något mönster när det gäller anlagd brand av mindre omfattning/falsklarm?",
            "Finns upplag av stenar och tillhyggen vid platser nära anlagd brand?",
            "Finns det ryktesspridning i området?",
            "Finns det diskussioner på sociala medier som kan tyda på oro?",
            "Finns det personer som nyligen har frihetsberövats/frigivits med anledning av oro?",
            "Har ledande kriminella nyligen frigivits?",
            "Har media rapporterat kring läget i kommunen/stadsdelen?",
            "Finns annan underrättelseinformation?",
        ),
    ),
    _group(
        "andra",
        "Andra aspekter",
        18,
        (
            "Är det skollov eller nära förestående lov?",
            "Är det helgdagar eller nära förestående helgdag?",
            "Är väderläget gynnsamt för utomhusaktiviteter?",
        ),
    ),
)
STATEMENTS: tuple[Statement, ...] = tuple(s for g in GROUPS for s in g.statements)
_BY_NUMBER = {s.number: s for s in STATEMENTS}
SCHOOL_HOLIDAY, PUBLIC_HOLIDAY, WEATHER = 18, 19, 20


def statement(number: int) -> Statement:
    return _BY_NUMBER[number]


def scale_label(value: int) -> str:
    """Button text: the seed names only the ends of the scale."""
    if value == UNKNOWN:
        return UNKNOWN_LABEL
    if not MIN_VALUE <= value <= MAX_VALUE:
        raise ValueError(f"checklist value out of range: {value}")
    endpoint = SCALE_ENDPOINTS.get(value)
    return f"{value} – {endpoint}" if endpoint else str(value)


@dataclass(frozen=True)
class ChecklistScore:
    """Answers so far, statement number → 1..4; missing numbers are not yet answered.

    A stored "Vet ej" (``UNKNOWN``) moves to ``unknown``: answered, so it is not asked
    again, but not in ``answers``, so it counts nowhere in the score.
    """

    answers: Mapping[int, int]
    unknown: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        raw = dict(self.answers)
        unknown = {n for n, v in raw.items() if v == UNKNOWN} | set(self.unknown)
        object.__setattr__(self, "answers", {n: v for n, v in raw.items() if v != UNKNOWN})
        for number, value in self.answers.items():
            if number not in _BY_NUMBER:
                raise ValueError(f"no checklist statement {number}")
            if not MIN_VALUE <= value <= MAX_VALUE:
                raise ValueError(f"statement {number}: value {value} outside 1..4")
        for number in unknown:
            if number not in _BY_NUMBER:
                raise ValueError(f"no checklist statement {number}")
        # Copied read-only so a caller's dict cannot change a score after the fact.
        object.__setattr__(self, "answers", MappingProxyType(dict(self.answers)))
        object.__setattr__(self, "unknown", frozenset(unknown - set(self.answers)))

    def with_answer(self, number: int, value: int) -> ChecklistScore:
        return ChecklistScore({**self.answers, number: value}, self.unknown - {number})


def total(score: ChecklistScore) -> int:
    return sum(score.answers.values())


def max_possible(score: ChecklistScore) -> int:
    """The highest total the answered statements could give (80 when all are answered)."""
    return MAX_VALUE * len(score.answers)


def share_answered(score: ChecklistScore) -> float:
    return len(score.answers) / len(STATEMENTS)


def strongest_signals(score: ChecklistScore, n: int = 3) -> list[tuple[Statement, int]]:
    """Up to ``n`` statements rated 3 or 4, highest first, in checklist order within a value."""
    strong = [(statement(num), value) for num, value in score.answers.items() if value >= 3]
    strong.sort(key=lambda pair: (-pair[1], pair[0].number))
    return strong[:n]


def signal_strength(score: ChecklistScore) -> float:
    """0 when every answer is "stämmer inte alls", 1 when every one is "stämmer mycket bra".

    Normalised over the answered statements so a half-done checklist already counts.
    """
    answered = len(score.answers)
    if not answered:
        return 0.0
    return (total(score) - MIN_VALUE * answered) / ((MAX_VALUE - MIN_VALUE) * answered)


def swedish_public_holidays(year: int) -> dict[date, str]:
    """Röda dagar plus midsommar-, jul- och nyårsafton, with Swedish names.

    The eves are not public holidays by law but are treated as such, and they are the
    evenings with most fireworks and unrest. Sundays are left out: the package can list
    every Sunday as "Söndag", which would make every week look like a holiday week.
    """
    days = holidays.Sweden(
        years=year, language="sv", categories=(PUBLIC, DE_FACTO), include_sundays=False
    )
    return dict(sorted(days.items()))


# How close an upcoming holiday must be to count as "nära förestående".
SOON = timedelta(days=7)
FAIRLY_SOON = timedelta(days=14)
_MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


def _day_month(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _capital(name: str) -> str:
    # Names come from the kommun's own list, often written "höstlov".
    return name[:1].upper() + name[1:]


def _in_days(start: date, day: date) -> str:
    days = (start - day).days
    return "i morgon" if days == 1 else f"om {days} dagar"


def _upcoming_value(gap: timedelta) -> int:
    return 3 if gap <= SOON else 2 if gap <= FAIRLY_SOON else 1


def prefill_other_aspects(
    day: date,
    school_holidays: list[tuple[date, date, str]],
    public_holidays: dict[date, str],
) -> dict[int, tuple[int, str]]:
    """Proposed (value, reason) for statements 18 and 19, which the calendar can answer.

    ``school_holidays`` are (first day, last day, name), e.g. the kommun's lovdagar.
    ``public_holidays`` should cover the coming two weeks; near New Year pass both years.
    The weather (statement 20) cannot be known here and is left to the coordinator.
    """
    proposals: dict[int, tuple[int, str]] = {}

    current = [h for h in school_holidays if h[0] <= day <= h[1]]
    upcoming = sorted(h for h in school_holidays if day < h[0] <= day + FAIRLY_SOON)
    if current:
        first, last, name = current[0]
        reason = f"{_capital(name)} pågår ({_day_month(first)}–{_day_month(last)})."
        proposals[SCHOOL_HOLIDAY] = (4, reason)
    elif upcoming:
        first, _, name = upcoming[0]
        reason = f"{_capital(name)} börjar {_in_days(first, day)} ({_day_month(first)})."
        proposals[SCHOOL_HOLIDAY] = (_upcoming_value(first - day), reason)
    else:
        proposals[SCHOOL_HOLIDAY] = (1, "Inget skollov de närmaste två veckorna.")

    coming = sorted(d for d in public_holidays if day <= d <= day + FAIRLY_SOON)
    if coming and coming[0] == day:
        proposals[PUBLIC_HOLIDAY] = (4, f"I dag är det {public_holidays[day]}.")
    elif coming:
        nearest = coming[0]
        reason = f"{public_holidays[nearest]} {_in_days(nearest, day)} ({_day_month(nearest)})."
        proposals[PUBLIC_HOLIDAY] = (_upcoming_value(nearest - day), reason)
    else:
        proposals[PUBLIC_HOLIDAY] = (1, "Ingen helgdag de närmaste två veckorna.")
    return proposals
