"""Upcoming events, insatser, uppföljning and återkoppling as plain data.

EST's steps three to five: partners decide insatser (actions) for places, assess
them afterwards (uppföljning) and tell the people who reported what came of it
(återkoppling). Telegram only shows what is decided here: how coordinators write
dates and times ("fre 19:00", "2026-12-31 22:00", "31/12 22"), the periods offered
as buttons, the year's known risk days, the status rules of an insats and who gets
a thank-you. Everything is computed from an injected "now" in local time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from est.privacy import check_free_text

# Risk days follow one rule for every message (est.risk_days); re-exported for /handelse.
from est.risk_days import RiskDay as RiskDay
from est.risk_days import known_risk_days as known_risk_days

# ---------------------------------------------------------------- limits

EVENT_TITLE_MAX = 200  # Event.title
INSATS_WHAT_MAX = 300  # Insats.what
FOLLOWUP_COMMENT_MAX = 500  # Insats.followup_comment
PLACE_NAME_MAX = 80
EVENT_LIST_DAYS = 30
RISK_LIST_DAYS = 90
# Nobody plans a match or an insats more than a year ahead; a typo is likelier.
MAX_AHEAD = timedelta(days=400)
MAX_INSATS_LENGTH = timedelta(days=62)
FEEDBACK_WINDOW = timedelta(days=14)

# ---------------------------------------------------------------- dialog steps
# Stored in the dialog row and shown nowhere; keep them short (Dialog.step ≤ 24). Rows
# written before the dialog engine carry the same names, so they continue.

EV_AREA, EV_WHAT, EV_DAY, EV_TIME, EV_WHEN_T, EV_CONFIRM = (
    "ev_area", "ev_what", "ev_day", "ev_time", "ev_when_t", "ev_confirm"
)
IN_AREA, IN_PLACE, IN_PLACE_T, IN_WHAT, IN_ORG, IN_PERIOD, IN_PERIOD_T, IN_CONFIRM = (
    "in_area", "in_place", "in_place_t", "in_what", "in_org", "in_period", "in_period_t",
    "in_confirm",
)
FU_ASK, FU_COMMENT = "fu_ask", "fu_comment"

EVENT, INSATS, FOLLOWUP = "event", "insats", "followup"
EVENT_STEPS = (EV_AREA, EV_WHAT, EV_DAY, EV_TIME, EV_CONFIRM)
INSATS_STEPS = (IN_AREA, IN_PLACE, IN_WHAT, IN_ORG, IN_PERIOD, IN_CONFIRM)
# Steps that wait for typed text, and the button step "Tillbaka" returns to.
TYPED_PARENT = {EV_WHEN_T: EV_DAY, IN_PLACE_T: IN_PLACE, IN_PERIOD_T: IN_PERIOD}
# Steps that take typed free text (the other typed steps take a date or a period).
FREE_TEXT_STEPS = frozenset({EV_WHAT, IN_WHAT, IN_PLACE, IN_PLACE_T})
# The "Hela kommunen" (an event's area) / "Hela området" (an insats's place) choice.
WHOLE = "-"


class InvalidChoice(Exception):
    """A press or typed answer that does not fit the step; the message is Swedish.

    ``delete``: the person's own message should leave the chat (it held a personnummer).
    """

    def __init__(self, problem: str, *, delete: bool = False) -> None:
        super().__init__(problem)
        self.delete = delete


@dataclass
class PlanDraft:
    """What a coordinator has chosen so far in /handelse, /insats or an uppföljning."""

    kind: str = EVENT
    area: str | None = None
    whole_kommun: bool = False  # an event for "Hela kommunen" (area None)
    place_key: str | None = None
    place_name: str | None = None
    whole_area: bool = False  # an insats for the whole area, no place
    what: str | None = None
    day: str | None = None  # ISO date chosen with a day button (events)
    starts_at: str | None = None  # ISO 8601 with offset
    ends_at: str | None = None
    period_label: str | None = None
    org: str | None = None
    insats_id: int | None = None  # the follow-up's insats, or the insats once saved
    event_id: int | None = None
    effect: str | None = None  # the uppföljning's effect (a key of EFFECTS)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PlanDraft:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def start(self) -> datetime | None:
        return datetime.fromisoformat(self.starts_at) if self.starts_at else None

    def end(self) -> datetime | None:
        return datetime.fromisoformat(self.ends_at) if self.ends_at else None

    @property
    def has_area(self) -> bool:
        return self.area is not None or (self.kind == EVENT and self.whole_kommun)

    @property
    def has_place(self) -> bool:
        return bool(self.place_key or self.place_name or self.whole_area)

    def set_area(self, area_key: str | None) -> None:
        if area_key != self.area:
            self.clear_place()
        self.area, self.whole_kommun = area_key, area_key is None

    def clear_place(self) -> None:
        self.place_key = self.place_name = None
        self.whole_area = False


def first_missing_step(draft: PlanDraft) -> str | None:
    """The first step without an answer; None when the draft can be saved."""
    if draft.kind == EVENT:
        if not draft.has_area:
            return EV_AREA
        if not draft.what:
            return EV_WHAT
        if not draft.starts_at:
            return EV_DAY
        return None
    if not draft.area:
        return IN_AREA
    if not draft.has_place:
        return IN_PLACE
    if not draft.what:
        return IN_WHAT
    if not draft.org:
        return IN_ORG
    if not (draft.starts_at and draft.ends_at):
        return IN_PERIOD
    return None


def previous_step(draft: PlanDraft, step: str) -> str:
    """Where "Tillbaka" leads."""
    if step in TYPED_PARENT:
        return TYPED_PARENT[step]
    steps = EVENT_STEPS if draft.kind == EVENT else INSATS_STEPS
    if step not in steps:
        return steps[0]
    if step == EV_CONFIRM and draft.day is None:
        return EV_DAY  # the time was typed with its date: no time buttons to go back to
    return steps[max(steps.index(step) - 1, 0)]


def clean_text(text: str) -> str:
    """One line, single spaces: titles and places are shown in lists."""
    return " ".join(text.split())


def next_step(draft: PlanDraft) -> str:
    """The first step still to answer, else the confirmation."""
    confirm = EV_CONFIRM if draft.kind == EVENT else IN_CONFIRM
    return first_missing_step(draft) or confirm


def choose(draft: PlanDraft, step: str, action: str, arg: str | None, *, config,
           now_local: datetime) -> str:
    """Apply one press to the draft and return the next step. Raises InvalidChoice.

    Every value is checked against the config and the clock: callback data is
    untrusted, and a button may be pressed long after it was shown. "Tillbaka",
    "Avbryt" and "Spara" are not presses of a step (the dialog handles them).
    """
    if draft.kind == EVENT:
        if step == EV_AREA and action == "a":
            if arg != WHOLE and config.area(arg or "") is None:
                raise InvalidChoice("Okänt område.")
            draft.set_area(None if arg == WHOLE else arg)
            return next_step(draft)
        if step == EV_DAY and action == "d":
            choices = {day.isoformat() for day, _ in event_day_choices(now_local.date())}
            if arg not in choices:
                raise InvalidChoice("Den dagen kan inte väljas längre. Välj igen.")
            draft.day, draft.starts_at = arg, None
            return EV_TIME
        if step == EV_DAY and action == "dt":
            draft.day = None
            return EV_WHEN_T
        if step == EV_TIME and action == "tt":
            return EV_WHEN_T
        if step == EV_TIME and action == "t":
            if not draft.day or not (arg or "").isascii() or not (arg or "").isdigit() \
                    or int(arg) > 23:
                raise InvalidChoice("Okänd tid.")
            moment = _at(date.fromisoformat(draft.day), time(int(arg)), now_local.tzinfo)
            if moment < now_local:
                raise InvalidChoice("Den tiden har redan varit.")
            draft.starts_at = moment.astimezone(UTC).isoformat()
            return next_step(draft)
    elif draft.kind == INSATS:
        if step == IN_AREA and action == "a":
            if config.area(arg or "") is None:
                raise InvalidChoice("Okänt område.")
            draft.set_area(arg)
            return next_step(draft)
        if step == IN_PLACE and action == "p":
            if arg != WHOLE and config.place(draft.area or "", arg or "") is None:
                raise InvalidChoice("Okänd plats.")
            draft.clear_place()
            if arg == WHOLE:
                draft.whole_area = True
            else:
                draft.place_key = arg
            return next_step(draft)
        if step == IN_PLACE and action == "pt":
            return IN_PLACE_T
        if step == IN_ORG and action == "o":
            if config.organisation(arg or "") is None:
                raise InvalidChoice("Okänd organisation.")
            draft.org = arg
            return next_step(draft)
        if step == IN_PERIOD and action == "w":
            period = preset_period(arg or "", now_local)
            if period is None:
                raise InvalidChoice("Den perioden går inte att välja längre. Välj igen.")
            draft.starts_at, draft.ends_at = (m.astimezone(UTC).isoformat() for m in period)
            draft.period_label = PERIOD_PRESETS[arg]
            return next_step(draft)
        if step == IN_PERIOD and action == "wt":
            return IN_PERIOD_T
    raise InvalidChoice("Den knappen gäller inte längre.")


@dataclass(frozen=True)
class Typed:
    """A typed answer that was taken: the next step, and what to tell the person."""

    step: str
    notice: str | None = None  # contact details were masked
    delete: bool = False  # the person's own message leaves the chat


def check_text(text: str, max_len: int, *, one_line: bool = True) -> tuple[str, str | None]:
    """Free text as it may be stored, and a notice when contact details were masked.

    Raises InvalidChoice (with ``delete``: a refused text leaves the chat).
    """
    checked = check_free_text(clean_text(text) if one_line else text.strip(), max_len=max_len)
    if not checked.ok:
        raise InvalidChoice(checked.problem, delete=True)
    return checked.text, checked.notice


def typed(draft: PlanDraft, step: str, text: str, *, now_local: datetime) -> Typed:
    """Apply a typed answer (a title, a place, a date or a period). Raises InvalidChoice.

    A personnummer refuses the text; a phone number or an e-mail address is masked,
    and the original message should leave the chat (``Typed.delete``).
    """
    if step in FREE_TEXT_STEPS:
        limit = {EV_WHAT: EVENT_TITLE_MAX, IN_WHAT: INSATS_WHAT_MAX}.get(step, PLACE_NAME_MAX)
        checked, notice = check_text(text, limit)
        if step in (EV_WHAT, IN_WHAT):
            draft.what = checked
        else:
            draft.clear_place()
            draft.place_name = checked
        return Typed(next_step(draft), notice, delete=notice is not None)
    try:
        if step in (IN_PERIOD, IN_PERIOD_T):
            start, end = parse_period(text, now_local)
            draft.starts_at = start.astimezone(UTC).isoformat()
            draft.ends_at = end.astimezone(UTC).isoformat()
            draft.period_label = None
        elif step in (EV_DAY, EV_TIME, EV_WHEN_T):
            default_day = date.fromisoformat(draft.day) if draft.day and step != EV_DAY \
                else None
            moment = parse_moment(text, now_local, default_day=default_day)
            if step == EV_DAY:
                draft.day = None
            draft.starts_at = moment.astimezone(UTC).isoformat()
        else:
            raise InvalidChoice("Välj med knapparna.")
    except DateProblem as problem:
        raise InvalidChoice(str(problem)) from problem
    return Typed(next_step(draft))


def followup_comment(text: str) -> tuple[str, str | None]:
    """The uppföljning's comment as it may be stored (lines kept), and any notice."""
    return check_text(text, FOLLOWUP_COMMENT_MAX, one_line=False)


# ---------------------------------------------------------------- dates and times

WEEKDAY_SHORT = ("mån", "tis", "ons", "tors", "fre", "lör", "sön")
_WEEKDAYS = {
    "mån": 0, "måndag": 0, "man": 0, "mandag": 0,
    "tis": 1, "tisdag": 1,
    "ons": 2, "onsdag": 2,
    "tor": 3, "tors": 3, "torsdag": 3,
    "fre": 4, "fredag": 4,
    "lör": 5, "lördag": 5, "lor": 5, "lordag": 5,
    "sön": 6, "söndag": 6, "son": 6, "sondag": 6,
}
_RELATIVE = {
    "idag": 0, "ikväll": 0, "ikvall": 0, "inatt": 0,
    "imorgon": 1, "imorn": 1, "morgon": 1,
    "iövermorgon": 2, "övermorgon": 2,
}
_MONTHS = {
    "jan": 1, "januari": 1, "feb": 2, "februari": 2, "mar": 3, "mars": 3, "apr": 4,
    "april": 4, "maj": 5, "jun": 6, "juni": 6, "jul": 7, "juli": 7, "aug": 8, "augusti": 8,
    "sep": 9, "sept": 9, "september": 9, "okt": 10, "oktober": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}
_TIME = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?")
_DOT_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})(?:\.(\d{4})?)?")
_DAY_NUMBER = re.compile(r"(\d{1,2})")
# "18-23" or "fre 18-23": two times joined by a hyphen (not the end of an ISO date).
_TIME_RANGE = re.compile(r"(?<![\d\-/.])(\d{1,2}(?:[:.]\d{2})?)-(\d{1,2}(?:[:.]\d{2})?)$")
_PERIOD_SPLIT = re.compile(r"\s*(?:–|—|\s-\s|\btill\b)\s*")

TIME_EXAMPLES = "fre 19:00, i morgon 18, 31/12 22 eller 2026-12-31 22:00"
PERIOD_EXAMPLES = "fre 18 – sön 23, i dag 18–23 eller 31/12 20 – 1/1 03"


class DateProblem(ValueError):
    """Why typed text is not a usable date or time; the message is Swedish."""


@dataclass(frozen=True)
class _Point:
    day: date | None
    clock: time | None
    by_weekday: bool


def _normalise(text: str) -> str:
    text = text.strip().lower().replace(",", " ")
    text = re.sub(r"\bkl\.?\s*", " ", text)
    text = re.sub(r"\bi (dag|kväll|kvall|natt|morgon|morn|övermorgon)\b", r"i\1", text)
    text = re.sub(r"\bklockan\b", " ", text)
    return " ".join(text.split())


def _clock(token: str) -> time | None:
    match = _TIME.fullmatch(token)
    if match is None:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        raise DateProblem("Den tiden finns inte. Skriv till exempel 19:00.")
    return time(hour, minute)


def _make_date(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateProblem("Det datumet finns inte.") from None


def _this_or_next_year(month: int, day: int, reference: date) -> date:
    """The first such date on or after ``reference``."""
    for year in (reference.year, reference.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= reference:
            return candidate
    raise DateProblem("Det datumet finns inte.")


def _day_part(tokens: list[str], reference: date, today: date) -> tuple[date, bool]:
    """The date named by ``tokens``, and whether it was named by a weekday.

    "i morgon" counts from today; a weekday or a date without a year means the first
    such day on or after ``reference`` (today, or the start of a period for its end).
    """
    words = " ".join(tokens)
    if words in _RELATIVE:
        return today + timedelta(days=_RELATIVE[words]), False
    if len(tokens) == 1 and tokens[0].rstrip(".") in _WEEKDAYS:
        weekday = _WEEKDAYS[tokens[0].rstrip(".")]
        return reference + timedelta(days=(weekday - reference.weekday()) % 7), True
    # A weekday in front of a date ("fre 27/11") adds nothing: the date decides.
    if len(tokens) > 1 and tokens[0].rstrip(".") in _WEEKDAYS:
        tokens = tokens[1:]
        words = " ".join(tokens)
    if (match := _ISO_DATE.fullmatch(words)) is not None:
        return _make_date(int(match[1]), int(match[2]), int(match[3])), False
    if (match := _SLASH_DATE.fullmatch(words)) or (match := _DOT_DATE.fullmatch(words)):
        day, month, year = int(match[1]), int(match[2]), match[3]
        if year is None:
            return _this_or_next_year(month, day, reference), False
        full_year = int(year) + (2000 if len(year) == 2 else 0)
        return _make_date(full_year, month, day), False
    if len(tokens) in (2, 3) and _DAY_NUMBER.fullmatch(tokens[0]) \
            and tokens[1].rstrip(".") in _MONTHS:
        day, month = int(tokens[0]), _MONTHS[tokens[1].rstrip(".")]
        if len(tokens) == 3:
            if not re.fullmatch(r"\d{4}", tokens[2]):
                raise DateProblem(f"Jag förstår inte datumet. Skriv till exempel {TIME_EXAMPLES}.")
            return _make_date(int(tokens[2]), month, day), False
        return _this_or_next_year(month, day, reference), False
    raise DateProblem(f"Jag förstår inte datumet. Skriv till exempel {TIME_EXAMPLES}.")


def _point(text: str, reference: date, today: date | None = None) -> _Point:
    tokens = _normalise(text).split()
    if not tokens:
        raise DateProblem(f"Skriv datum och tid, till exempel {TIME_EXAMPLES}.")
    clock = None
    if _TIME.fullmatch(tokens[-1]):
        try:
            clock = _clock(tokens[-1])
        except DateProblem:
            # "31.12" alone is a date without a time, not an impossible time.
            if len(tokens) > 1 or _DOT_DATE.fullmatch(tokens[-1]) is None:
                raise
        else:
            tokens = tokens[:-1]
    if not tokens:
        return _Point(None, clock, False)
    day, by_weekday = _day_part(tokens, reference, today or reference)
    return _Point(day, clock, by_weekday)


def _at(day: date, clock: time, tz) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz)


def parse_moment(text: str, now_local: datetime, *, default_day: date | None = None
                 ) -> datetime:
    """A future local moment from "fre 19:00", "i morgon 18", "31/12 22", "2026-12-31 22:00".

    A weekday means its next occurrence (a week ahead if that moment today has passed);
    a date without a year means the next such date. A time alone belongs to
    ``default_day`` (the day chosen with a button), else to today, or tomorrow if it
    has passed. Raises DateProblem with a Swedish explanation.
    """
    today = now_local.date()
    point = _point(text, today)
    if point.clock is None:
        raise DateProblem("Ange också klockslag, till exempel fre 19:00.")
    if point.day is None:
        day = default_day or today
        moment = _at(day, point.clock, now_local.tzinfo)
        if default_day is None and moment < now_local:
            moment = _at(today + timedelta(days=1), point.clock, now_local.tzinfo)
    else:
        moment = _at(point.day, point.clock, now_local.tzinfo)
        if point.by_weekday and moment < now_local:
            moment = _at(point.day + timedelta(days=7), point.clock, now_local.tzinfo)
    if moment < now_local:
        raise DateProblem("Den tiden har redan varit. Ange en kommande tid.")
    if moment - now_local > MAX_AHEAD:
        raise DateProblem("Det är mer än ett år fram i tiden. Kontrollera datumet.")
    return moment


def _within_reach(day: date, today: date) -> None:
    """A period's day more than a year away is a typo (9999-12-31); the checks that
    follow would step past the calendar's end (or start) computing with it."""
    if day - today > MAX_AHEAD:
        raise DateProblem("Det är mer än ett år fram i tiden. Kontrollera datumet.")
    if today - day > MAX_AHEAD:
        raise DateProblem("Det är mer än ett år sedan. Kontrollera datumet.")


def parse_period(text: str, now_local: datetime) -> tuple[datetime, datetime]:
    """A local (start, end) from "fre 18 – sön 23", "i dag 18-23", "31/12 20 – 1/1 03".

    An end given as a time alone is on the start's day, or the next day when it is not
    after the start (past midnight). The period must end in the future; its start may
    have passed (an insats that is already running). Raises DateProblem.
    """
    normal = " ".join(text.strip().split())
    normal = _TIME_RANGE.sub(r"\1 – \2", normal)
    parts = _PERIOD_SPLIT.split(normal, maxsplit=1)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise DateProblem(f"Skriv perioden som start – slut, till exempel {PERIOD_EXAMPLES}.")
    today, tz = now_local.date(), now_local.tzinfo
    start_point = _point(parts[0], today)
    if start_point.clock is None:
        raise DateProblem("Ange klockslag för starten, till exempel fre 18 – sön 23.")
    start_day = start_point.day or today
    _within_reach(start_day, today)
    end_point = _point(parts[1], start_day, today)
    if end_point.clock is None:
        raise DateProblem("Ange klockslag för slutet, till exempel fre 18 – sön 23.")
    _within_reach(end_point.day or start_day, today)
    start = _at(start_day, start_point.clock, tz)
    end = _at(end_point.day or start_day, end_point.clock, tz)
    if end_point.day is None and end <= start:
        end = _at(start_day + timedelta(days=1), end_point.clock, tz)
    if start_point.by_weekday and end <= now_local:
        start, end = start + timedelta(days=7), end + timedelta(days=7)
    if end <= start:
        raise DateProblem("Slutet måste komma efter starten.")
    if end <= now_local:
        raise DateProblem("Den perioden har redan tagit slut. Ange en kommande period.")
    if end - start > MAX_INSATS_LENGTH:
        raise DateProblem("En insats kan vara högst två månader. Dela upp den i flera.")
    if start - now_local > MAX_AHEAD:
        raise DateProblem("Det är mer än ett år fram i tiden. Kontrollera datumet.")
    return start, end


def day_label(day: date) -> str:
    """A short Swedish day for buttons and lists: "fre 27/11"."""
    return f"{WEEKDAY_SHORT[day.weekday()]} {day.day}/{day.month}"


def event_day_choices(today: date) -> list[tuple[date, str]]:
    """Day buttons of /handelse: today, tomorrow, and the coming Friday and Saturday."""
    choices = [(today, "I dag"), (today + timedelta(days=1), "I morgon")]
    for weekday in (4, 5):  # Friday, Saturday
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
        if all(day != known for known, _ in choices):
            choices.append((day, day_label(day).capitalize()))
    return choices


def format_moment(local: datetime) -> str:
    """"fre 27/11 19:00" for a local moment."""
    return f"{day_label(local.date())} {local:%H:%M}"


def format_period(start: datetime, end: datetime) -> str:
    """"fre 20/11 18:00–23:00", or "fre 20/11 18:00 – sön 22/11 23:00" over several days.

    Both moments local; a period ending at midnight is shown as 24:00 of its first day.
    """
    if end.date() == start.date():
        return f"{format_moment(start)}–{end:%H:%M}"
    if end.date() == start.date() + timedelta(days=1) and end.time() == time(0):
        return f"{format_moment(start)}–24:00"
    return f"{format_moment(start)} – {format_moment(end)}"


EVENT_HOURS = (12, 15, 17, 18, 19, 20, 21, 22)


def event_hour_choices(day: date, now_local: datetime) -> list[int]:
    """Hour buttons for a day: only those still ahead when the day is today."""
    return [h for h in EVENT_HOURS
            if _at(day, time(h), now_local.tzinfo) >= now_local]


TONIGHT, WEEKEND, WEEK = "kv", "hg", "vk"
PERIOD_PRESETS = {TONIGHT: "Ikväll 18–23", WEEKEND: "I helgen fre 18 – sön 23",
                  WEEK: "Kommande vecka"}


def preset_period(key: str, now_local: datetime) -> tuple[datetime, datetime] | None:
    """The period behind a preset button, or None when it cannot apply now.

    "Ikväll" is today 18–23 (gone after 23.00); "I helgen" is Friday 18 to Sunday 23 of
    the weekend under way or ahead; "Kommande vecka" runs from this hour to 23.00 seven
    days later.
    """
    today, tz = now_local.date(), now_local.tzinfo
    if key == TONIGHT:
        start, end = _at(today, time(18), tz), _at(today, time(23), tz)
        return (start, end) if end > now_local else None
    if key == WEEKEND:
        friday = today - timedelta(days=(today.weekday() - 4) % 7) if today.weekday() >= 4 \
            else today + timedelta(days=4 - today.weekday())
        end = _at(friday + timedelta(days=2), time(23), tz)
        if end <= now_local:
            friday += timedelta(days=7)
            end += timedelta(days=7)
        return _at(friday, time(18), tz), end
    if key == WEEK:
        start = now_local.replace(minute=0, second=0, microsecond=0)
        return start, _at(today + timedelta(days=7), time(23), tz)
    return None


def period_presets(now_local: datetime) -> list[tuple[str, str]]:
    """(key, label) of the presets that apply now, in button order."""
    return [(key, label) for key, label in PERIOD_PRESETS.items()
            if preset_period(key, now_local) is not None]


# ---------------------------------------------------------------- insats status

PLANNED, RUNNING, DONE, CANCELLED = "planned", "running", "done", "cancelled"
# Member roles (as est.recipients.COORDINATOR_ROLES), for who may change a status.
COORDINATOR_ROLE, ADMIN_ROLE = "coordinator", "admin"
STATUSES = (PLANNED, RUNNING, DONE, CANCELLED)
STATUS_LABELS = {PLANNED: "Planerad", RUNNING: "Pågår", DONE: "Avslutad",
                 CANCELLED: "Inställd"}
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PLANNED: (RUNNING, CANCELLED),
    RUNNING: (DONE, CANCELLED),
    DONE: (),
    CANCELLED: (),
}


def effective_status(status: str, starts_at: datetime, ends_at: datetime,
                     now: datetime) -> str:
    """The status as it stands now: past its end a planned or running insats is done,
    and a planned one whose start has come is running."""
    if status in (PLANNED, RUNNING) and ends_at <= now:
        return DONE
    if status == PLANNED and starts_at <= now:
        return RUNNING
    return status


def may_change_status(role: str, org_key: str, insats_org_key: str) -> bool:
    """Who may start, finish or cancel an insats: the coordinators of the organisation
    responsible for it, and the admins. Everyone else who may list insatser sees it, but
    another organisation's resources are not theirs to call off."""
    if role == ADMIN_ROLE:
        return True
    return role == COORDINATOR_ROLE and org_key == insats_org_key


def check_status_change(current: str, target: str) -> str | None:
    """None if ``current`` → ``target`` is allowed, else why not, in Swedish."""
    if target not in STATUSES:
        return "Okänd status."
    if target in TRANSITIONS.get(current, ()):
        return None
    if current in (DONE, CANCELLED):
        return f"Insatsen är redan {STATUS_LABELS[current].lower()}."
    return (f"En insats kan inte gå från {STATUS_LABELS[current].lower()} till "
            f"{STATUS_LABELS[target].lower()}.")


def followup_due(status: str, ends_at: datetime, followup_asked_at: datetime | None,
                 now: datetime) -> bool:
    """Ask for uppföljning once the insats is over (ended, or marked done), once."""
    if followup_asked_at is not None or status == CANCELLED:
        return False
    return status == DONE or (status in (PLANNED, RUNNING) and ends_at <= now)


EFFECTS = {"better": "Bättre", "unchanged": "Oförändrat", "worse": "Sämre"}


# ---------------------------------------------------------------- återkoppling


@dataclass(frozen=True)
class FeedbackCandidate:
    """One report about the insats's place, with what is known of its reporter."""

    member_id: int
    occurred_at: datetime
    withdrawn: bool
    active: bool
    paused: bool
    opted_out: bool


def feedback_recipients(candidates: Iterable[FeedbackCandidate], *, now: datetime,
                        exclude_member_id: int | None = None,
                        window: timedelta = FEEDBACK_WINDOW) -> list[int]:
    """Members to thank, once each, in order of their first qualifying report.

    A report counts when it happened within ``window`` before ``now`` and was not
    withdrawn; its reporter must be active, not paused and not have turned återkoppling
    off. The coordinator who registered the insats is not thanked for it.
    """
    since = now - window
    chosen: list[int] = []
    for c in sorted(candidates, key=lambda c: c.occurred_at):
        if c.withdrawn or not (since <= c.occurred_at <= now):
            continue
        if not c.active or c.paused or c.opted_out or c.member_id == exclude_member_id:
            continue
        if c.member_id not in chosen:
            chosen.append(c.member_id)
    return chosen
