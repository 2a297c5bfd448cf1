"""The guided field report as plain data: steps, choices and validation.

Telegram only shows these steps; the order, the allowed values and what a
finished report must contain are decided here so they can be tested alone.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from est import geo

# Step names are stored in the database and travel in callback_data: keep them short.
AREA, PLACE, PLACE_TEXT, WHAT, PEOPLE, WHEN, WHEN_TEXT = (
    "area", "place", "place_txt", "what", "people", "when", "when_txt"
)
SEVERITY, TEXT, SHARING, SUMMARY = "severity", "text", "sharing", "summary"
# A shared position near a place of another area than the chosen one: which is right?
PLACE_AREA = "place_ar"
# A description over the limit: keep its beginning, or write a shorter one?
TEXT_LONG = "text_long"

MAIN_STEPS: tuple[str, ...] = (AREA, PLACE, WHAT, PEOPLE, WHEN, SEVERITY, TEXT, SHARING, SUMMARY)
# Sub-steps (typed text, a question about an answer); their "Tillbaka" returns to the
# step they came from, and they lead on as that step does.
TEXT_INPUT_PARENT = {PLACE_TEXT: PLACE, WHEN_TEXT: WHEN, PLACE_AREA: PLACE, TEXT_LONG: TEXT}
# The steps at which the one-tap "share my position" keyboard is offered.
POSITION_STEPS: tuple[str, ...] = (PLACE, PLACE_TEXT)
EDITABLE_STEPS: tuple[str, ...] = (AREA, PLACE, WHAT, PEOPLE, WHEN, SEVERITY, TEXT, SHARING)

PEOPLE_CHOICES: dict[str, str] = {
    "1-2": "1–2",
    "3-5": "3–5",
    "6-10": "6–10",
    "11-20": "11–20",
    "21-50": "21–50",
    "50+": "Fler än 50",
    "0": "Inga personer",
}
WHEN_CHOICES: dict[str, str] = {"0": "Nu", "30": "30 min sedan", "60": "1 tim sedan",
                                "120": "2 tim sedan"}
SEVERITY_CHOICES: dict[int, str] = {
    1: "1 – Lindrigt",
    2: "2 – Märkbart",
    3: "3 – Allvarligt",
    4: "4 – Mycket allvarligt",
}
FORMEDLAD, EGEN = "formedlad", "egen"
# Plain words: förmedlad and egen lägesbild are the method's terms, not the walker's.
SHARING_CHOICES: dict[str, str] = {
    FORMEDLAD: "Alla samordnare",
    EGEN: "Bara min organisation",
}
MAX_PLACE_NAME = 80
# The earliest a typed time may be: "i förrgår", at any hour.
MAX_PAST = timedelta(days=3)
YESTERDAY, DAY_BEFORE = "igår", "i förrgår"
DAY_WORDS = (YESTERDAY, DAY_BEFORE)
# A shared position belongs to the area of the nearest known place this close (areas
# have no borders in the config, only their places).
AREA_RADIUS_M = 1000.0


@dataclass
class ReportDraft:
    """Everything the reporter has chosen so far."""

    area: str | None = None
    place_key: str | None = None
    place_name: str | None = None
    lat: float | None = None
    lon: float | None = None
    categories: list[str] = field(default_factory=list)
    people: str | None = None
    occurred_at: str | None = None  # ISO 8601 UTC; JSON-friendly
    when_label: str | None = None
    severity: int | None = None
    text: str | None = None
    text_skipped: bool = False
    sharing: str = FORMEDLAD
    reviewing: bool = False
    editing_reference: str | None = None  # set when changing a sent report
    editing_report_id: int | None = None
    # A shared position waiting for the area question (PLACE_AREA) or for an area at all
    # (a position shared outside a dialog, far from every known place).
    pending_lat: float | None = None
    pending_lon: float | None = None
    from_position: bool = False  # the place came from a shared position
    # A description over the limit: its cut beginning, its length, and the reporter's
    # message, which stays in the chat until they have chosen.
    pending_text: str | None = None
    pending_text_len: int | None = None
    pending_message_id: int | None = None
    location_prompt: int | None = None  # the message carrying the position keyboard
    sharing_last: str | None = None  # the delning of the reporter's latest report

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ReportDraft:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def has_place(self) -> bool:
        return bool(self.place_key or self.place_name or self.lat is not None)

    def occurred(self) -> datetime | None:
        return datetime.fromisoformat(self.occurred_at) if self.occurred_at else None

    def clear_place(self) -> None:
        self.place_key = self.place_name = None
        self.lat = self.lon = None
        self.pending_lat = self.pending_lon = None
        self.from_position = False

    def clear_pending_text(self) -> None:
        self.pending_text = self.pending_text_len = None


def next_step(draft: ReportDraft, step: str) -> str:
    """The step after ``step``: the summary when reviewing, else the next main step."""
    if draft.reviewing:
        return SUMMARY
    step = TEXT_INPUT_PARENT.get(step, step)
    index = MAIN_STEPS.index(step)
    return MAIN_STEPS[min(index + 1, len(MAIN_STEPS) - 1)]


def previous_step(draft: ReportDraft, step: str) -> str:
    """Where "Tillbaka" leads: a text prompt goes back to its buttons."""
    if step in TEXT_INPUT_PARENT:
        return TEXT_INPUT_PARENT[step]
    if draft.reviewing and step != SUMMARY:
        return SUMMARY
    index = MAIN_STEPS.index(step)
    return MAIN_STEPS[max(index - 1, 0)]


def missing_fields(draft: ReportDraft) -> list[str]:
    """Steps that still lack an answer; empty means the report can be sent."""
    missing = []
    if not draft.area:
        missing.append(AREA)
    if not draft.has_place:
        missing.append(PLACE)
    if not draft.categories:
        missing.append(WHAT)
    if draft.people is None:
        missing.append(PEOPLE)
    if draft.occurred_at is None:
        missing.append(WHEN)
    if draft.severity is None:
        missing.append(SEVERITY)
    return missing


def set_when_minutes_ago(draft: ReportDraft, minutes: int, now: datetime) -> None:
    draft.occurred_at = (now - timedelta(minutes=minutes)).isoformat()
    draft.when_label = WHEN_CHOICES.get(str(minutes))


_DAY = r"(?P<day>i\s*går|i\s*förrgår|förrgår|i\s*dag)"
_CLOCK_PART = (r"(?:kl\.?|klockan)?\s*(?P<hour>\d{1,2})"
               r"(?:[:.](?P<minute>\d{2})|(?P<packed>\d{2}))?")
_DAY_AFTER = _DAY.replace("<day>", "<day2>")
_TIME = re.compile(rf"^(?:{_DAY}\s*,?\s*)?{_CLOCK_PART}(?:\s*,?\s*{_DAY_AFTER})?$")
TIME_EXAMPLES = "22, kl 21.40, 2215 eller igår 23:15"


@dataclass(frozen=True)
class ReadTime:
    """A typed time: the local moment, its day word, and whether a time later than now
    was taken as yesterday's."""

    when: datetime
    day: str | None = None
    later_than_now: bool = False


def _day_offset(word: str | None) -> int | None:
    if word is None:
        return None
    word = re.sub(r"\s+", "", word)
    return {"igår": 1, "iförrgår": 2, "förrgår": 2, "idag": 0}[word]


def read_time(text: str, now_local: datetime) -> ReadTime | str:
    """Read a time as people type it: "22", "kl 22", "22.15", "2215", "21:40",
    "igår 23:15", "i förrgår 21". Without a day word it is the latest such moment not in
    the future (a time later than now is yesterday's).

    Returns the moment, or a Swedish explanation with examples of what works.
    """
    match = _TIME.match(" ".join(text.lower().split()))
    if not match or (match.group("day") and match.group("day2")):
        if re.search(r"\b(i\s*går|förrgår)\b", text.lower()):
            return "Skriv också klockslaget, till exempel igår 23:15 eller i förrgår 21."
        return f"Skriv när det hände, till exempel {TIME_EXAMPLES}."
    hour = int(match.group("hour"))
    minute = int(match.group("minute") or match.group("packed") or 0)
    if hour > 23 or minute > 59:
        return f"Den tiden finns inte. Skriv till exempel {TIME_EXAMPLES}."
    offset = _day_offset(match.group("day") or match.group("day2"))
    moment = now_local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if offset is None:
        if moment <= now_local:
            return ReadTime(moment)
        return ReadTime(moment - timedelta(days=1), YESTERDAY, later_than_now=True)
    moment -= timedelta(days=offset)
    if moment > now_local:
        return ("Den tiden har inte varit än i dag. "
                f"Skriv till exempel igår {hour:02d}:{minute:02d}.")
    return ReadTime(moment, DAY_WORDS[offset - 1] if offset else None)


def parse_clock_time(text: str, now_local: datetime) -> datetime | str:
    """``read_time`` as a plain moment (or the explanation)."""
    read = read_time(text, now_local)
    return read if isinstance(read, str) else read.when


def set_typed_time(draft: ReportDraft, read: ReadTime, tz) -> None:
    draft.occurred_at = read.when.astimezone(tz).isoformat()
    draft.when_label = read.day


def clean_place_name(text: str) -> str:
    """Trim a typed place name; the caller checks emptiness and length."""
    return " ".join(text.split())


def preselect_sharing(draft: ReportDraft, last: str | None) -> None:
    """A new report starts with the reporter's last choice (from their latest report);
    est.report_draft.default_sharing still steers an unreadable egen to förmedlad."""
    draft.sharing = last if last in SHARING_CHOICES else FORMEDLAD
    draft.sharing_last = last if last in SHARING_CHOICES else None


def default_sharing(draft: ReportDraft, *, egen_has_readers: bool) -> None:
    """On arriving at the delning step: when the reporter's organisation has nobody who
    could read an egen report (est.visibility.egen_readers), förmedlad is chosen for them;
    they are told so, and may still choose egen."""
    if not egen_has_readers:
        draft.sharing = FORMEDLAD


def position_area(config, lat: float, lon: float) -> str | None:
    """The area a position lies in: that of the nearest known place within
    ``AREA_RADIUS_M``; None when no place is that close (then the chosen area stands)."""
    best: tuple[float, str] | None = None
    for area in config.areas:
        for place in area.places:
            if place.lat is None or place.lon is None:
                continue
            distance = geo.distance_m(lat, lon, place.lat, place.lon)
            if distance <= AREA_RADIUS_M and (best is None or distance < best[0]):
                best = (distance, area.key)
    return best[1] if best is not None else None


def near_place(config, area_key: str, lat: float, lon: float) -> str | None:
    """The name of the area's known place nearest a position, if within AREA_RADIUS_M:
    how a position is shown (never as coordinates)."""
    key = geo.nearest_place_key(config, area_key, lat, lon, within_m=AREA_RADIUS_M)
    place = config.place(area_key, key) if key else None
    return place.name if place else None


def _store_position(draft: ReportDraft, located: geo.Located) -> None:
    draft.clear_place()
    draft.place_key, draft.lat, draft.lon = located.place_key, located.lat, located.lon
    draft.from_position = True


def place_from_location(draft: ReportDraft, lat: float, lon: float, *, config) -> str | None:
    """A shared location as the report's place (est.geo.locate): a known place of the
    area when it is that close, else the rounded position. When it lies in another area
    than the chosen one, the PLACE_AREA question comes first. Returns the next step, or
    None when the location lies outside the deployment: then the draft is left as it was."""
    if geo.locate(config, draft.area or "", lat, lon) is None:
        return None
    there = position_area(config, lat, lon)
    if draft.area and there is not None and there != draft.area:
        draft.pending_lat, draft.pending_lon = round(lat, geo.DECIMALS), round(lon, geo.DECIMALS)
        return PLACE_AREA
    if not draft.area:  # only from start_at_position; the area is asked first
        draft.pending_lat, draft.pending_lon = round(lat, geo.DECIMALS), round(lon, geo.DECIMALS)
        return AREA
    _store_position(draft, geo.locate(config, draft.area, lat, lon))
    return next_step(draft, PLACE)


def start_at_position(lat: float, lon: float, *, config, sharing: str | None) -> tuple[
        ReportDraft, str] | None:
    """A position shared outside a dialog starts a report there: at "Vad" when the
    position tells the area, else at "Område" with the position kept. None when it lies
    outside the deployment."""
    draft = ReportDraft()
    preselect_sharing(draft, sharing)
    draft.area = position_area(config, lat, lon)
    step = place_from_location(draft, lat, lon, config=config)
    return None if step is None else (draft, step)


def position_areas(draft: ReportDraft, config) -> list[str]:
    """The PLACE_AREA choices: the chosen area and the one the position lies in."""
    if draft.pending_lat is None or draft.pending_lon is None:
        return []
    there = position_area(config, draft.pending_lat, draft.pending_lon)
    return list(dict.fromkeys(k for k in (there, draft.area) if k))


def _apply_pending_position(draft: ReportDraft, area_key: str, config) -> str:
    lat, lon = draft.pending_lat, draft.pending_lon
    draft.area = area_key
    located = geo.locate(config, area_key, lat, lon)
    if located is None:  # the box changed meanwhile: ask for the place instead
        draft.clear_place()
        return PLACE
    _store_position(draft, located)
    return next_step(draft, PLACE)


# ---------------------------------------------------------------- the "Vad" step

def ordered_categories(config, org_kind: str, usage: dict[str, int] | None = None) -> list:
    """The categories of /rapport, the most used first: those the config lists for the
    kind of organisation (``category_order``), then those the organisation reported most
    (``usage``: key → number of reports), then the rest in the config's order."""
    categories = reportable_categories(config, org_kind)
    listed = {key: i for i, key in enumerate(config.category_order.get(org_kind, []))}
    usage = usage or {}

    def rank(pair):
        index, category = pair
        if category.key in listed:
            return (0, listed[category.key], 0)
        return (1, -usage.get(category.key, 0), index)

    return [c for _, c in sorted(enumerate(categories), key=rank)]


# ---------------------------------------------------------------- a long description

def cut_text(text: str, max_len: int) -> str:
    """The beginning of a text that fits ``max_len``, ended at a word where one is near,
    with "…" to show it goes on."""
    if len(text) <= max_len:
        return text
    cut = text[:max_len - 1]
    space = cut.rfind(" ")
    if space >= max_len - 60:
        cut = cut[:space]
    return cut.rstrip(" ,.;:–-") + "…"


def keep_long_text(draft: ReportDraft, text: str, max_len: int,
                   message_id: int | None) -> None:
    """A checked (masked) text over the limit waits for the reporter's choice."""
    draft.pending_text, draft.pending_text_len = cut_text(text, max_len), len(text)
    draft.pending_message_id = message_id


# ---------------------------------------------------------------- changing a sent report

COMPARED = ("area", "place_key", "place_name", "lat", "lon", "people", "severity", "text",
            "sharing")


def unchanged(draft: ReportDraft, original: ReportDraft) -> bool:
    """Whether changing a sent report changed nothing that is stored."""
    same = all(getattr(draft, name) == getattr(original, name) for name in COMPARED)
    return same and sorted(draft.categories) == sorted(original.categories) \
        and draft.occurred() == original.occurred()


def format_reference(year: int, report_id: int) -> str:
    """The human reference a reporter can quote, e.g. ``R-2026-000123``."""
    return f"R-{year}-{report_id:06d}"


class InvalidChoice(Exception):
    """A button or text that does not fit the step; the message is Swedish."""


def choose(draft: ReportDraft, step: str, action: str, arg: str | None, *,
           config, org_kind: str, now: datetime) -> str:
    """Apply one button press to the draft and return the step to show next.

    Every value is checked against the deployment config: callback data is
    untrusted input, any client can send any string.
    """
    if step == AREA and action == "a":
        if config.area(arg or "") is None:
            raise InvalidChoice("Okänt område.")
        if draft.pending_lat is not None and not draft.has_place:
            return _apply_pending_position(draft, arg, config)
        if draft.area != arg:
            draft.clear_place()
        draft.area = arg
        return PLACE if not draft.has_place else next_step(draft, PLACE)
    if step == PLACE_AREA and action == "pa":
        if arg not in position_areas(draft, config):
            raise InvalidChoice("Den knappen gäller inte längre.")
        return _apply_pending_position(draft, arg, config)
    if step in (PLACE, PLACE_TEXT) and action == "p":
        if config.place(draft.area or "", arg or "") is None:
            raise InvalidChoice("Okänd plats.")
        draft.clear_place()
        draft.place_key = arg
        return next_step(draft, PLACE)
    if step == PLACE and action == "pt":
        return PLACE_TEXT
    if step == WHAT and action == "c":
        key, _, on = (arg or "").partition(".")
        allowed = {c.key for c in reportable_categories(config, org_kind)}
        if key not in allowed or on not in ("0", "1"):
            raise InvalidChoice("Okänd kategori.")
        selected = [k for k in draft.categories if k != key]
        draft.categories = [*selected, key] if on == "1" else selected
        return WHAT
    if step == WHAT and action == "cd":
        if not draft.categories:
            raise InvalidChoice("Välj minst en sak först.")
        return next_step(draft, WHAT)
    if step == PEOPLE and action == "n":
        if arg not in PEOPLE_CHOICES:
            raise InvalidChoice("Okänt antal.")
        draft.people = arg
        return next_step(draft, PEOPLE)
    if step == WHEN and action == "w":
        if arg not in WHEN_CHOICES:
            raise InvalidChoice("Okänd tid.")
        set_when_minutes_ago(draft, int(arg), now)
        return next_step(draft, WHEN)
    if step == WHEN and action == "wt":
        return WHEN_TEXT
    if step == SEVERITY and action == "s":
        if arg not in {str(level) for level in SEVERITY_CHOICES}:
            raise InvalidChoice("Okänd allvarlighetsgrad.")
        draft.severity = int(arg)
        return next_step(draft, SEVERITY)
    if step == TEXT and action == "ts":
        draft.text, draft.text_skipped = None, True
        draft.clear_pending_text()
        return next_step(draft, TEXT)
    if step == TEXT_LONG and action == "tk":
        if draft.pending_text is None:
            raise InvalidChoice("Den knappen gäller inte längre.")
        draft.text, draft.text_skipped = draft.pending_text, False
        draft.clear_pending_text()
        return next_step(draft, TEXT)
    if step == TEXT_LONG and action == "tw":
        draft.clear_pending_text()
        return TEXT
    if step == SHARING and action == "d":
        if arg not in SHARING_CHOICES:
            raise InvalidChoice("Okänt val.")
        draft.sharing = arg
        return next_step(draft, SHARING)
    if step == SUMMARY and action == "g":
        if arg not in EDITABLE_STEPS:
            raise InvalidChoice("Okänt steg.")
        draft.reviewing = True
        return arg
    if action == "b":
        return previous_step(draft, step)
    raise InvalidChoice("Den knappen gäller inte längre.")


def reportable_categories(config, org_kind: str) -> list:
    """What this organisation kind reports in /rapport, in the config's order; calm has
    its own /lugnt. ``ordered_categories`` puts the most used first."""
    return [c for c in config.categories_for(org_kind) if not c.calm]


def first_missing_step(draft: ReportDraft) -> str | None:
    missing = missing_fields(draft)
    return missing[0] if missing else None


def editable(received_at: datetime, withdrawn_at: datetime | None, now: datetime,
             config) -> bool:
    """A sent report may be changed or withdrawn for ``edit_window_minutes``."""
    age = now - received_at
    return withdrawn_at is None and age.total_seconds() <= config.reporting.edit_window_minutes * 60


def calm_report(area_key: str, calm_category_key: str, now: datetime) -> ReportDraft:
    """What a calm report (/lugnt) holds: the area, the calm category, no people, now."""
    return ReportDraft(area=area_key, categories=[calm_category_key], people="0",
                       occurred_at=now.isoformat(), when_label="Nu")
