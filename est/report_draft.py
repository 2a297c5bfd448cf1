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

MAIN_STEPS: tuple[str, ...] = (AREA, PLACE, WHAT, PEOPLE, WHEN, SEVERITY, TEXT, SHARING, SUMMARY)
# Steps that wait for typed text; their "Tillbaka" returns to the step they came from.
TEXT_INPUT_PARENT = {PLACE_TEXT: PLACE, WHEN_TEXT: WHEN}
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
SHARING_CHOICES: dict[str, str] = {
    FORMEDLAD: "Förmedlad – alla samordnare",
    EGEN: "Egen – bara min organisation",
}
MAX_PLACE_NAME = 80
# A report about something that happened more than this long ago is a mistake.
MAX_PAST = timedelta(hours=24)


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


_CLOCK = re.compile(r"^\s*(?:kl\.?\s*)?(\d{1,2})[:.](\d{2})\s*$", re.IGNORECASE)


def parse_clock_time(text: str, now_local: datetime) -> datetime | str:
    """Read "21:40" or "kl 21.40" as the latest such moment not in the future.

    Returns the aware local datetime, or a Swedish explanation of what is wrong.
    """
    match = _CLOCK.match(text)
    if not match:
        return "Skriv tiden som TT:MM, till exempel 21:40."
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return "Den tiden finns inte. Skriv till exempel 21:40."
    moment = now_local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if moment > now_local:
        moment -= timedelta(days=1)
    if now_local - moment > MAX_PAST:
        return "Tiden måste vara inom det senaste dygnet."
    return moment


def clean_place_name(text: str) -> str:
    """Trim a typed place name; the caller checks emptiness and length."""
    return " ".join(text.split())


def default_sharing(draft: ReportDraft, *, egen_has_readers: bool) -> None:
    """On arriving at the delning step: when the reporter's organisation has nobody who
    could read an egen report (est.visibility.egen_readers), förmedlad is chosen for them;
    they are told so, and may still choose egen."""
    if not egen_has_readers:
        draft.sharing = FORMEDLAD


def place_from_location(draft: ReportDraft, lat: float, lon: float, *, config) -> str | None:
    """A shared location as the report's place (est.geo.locate): a known place of the
    area when it is that close, else the rounded position. Returns the next step, or None
    when the location lies outside the deployment: then the draft is left as it was."""
    located = geo.locate(config, draft.area or "", lat, lon)
    if located is None:
        return None
    draft.clear_place()
    draft.place_key, draft.lat, draft.lon = located.place_key, located.lat, located.lon
    return next_step(draft, PLACE)


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
        if draft.area != arg:
            draft.clear_place()
        draft.area = arg
        return PLACE if not draft.has_place else next_step(draft, PLACE)
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
        return next_step(draft, TEXT)
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
    """What this organisation kind reports in /rapport; calm has its own /lugnt."""
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
