"""Deployment configuration: one kommun's areas, organisations, categories and schedule.

The file is written by a kommun admin, not a developer, so every problem is reported in
Swedish with the exact place in the file (``areas[2].places[0].name: saknas``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

OrgKind = Literal[
    "nattvandrare",
    "fältgrupp",
    "väktare",
    "bostadsbolag",
    "räddningstjänst",
    "polis",
    "kommun",
    "annan",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_KEY_RE = re.compile(r"[a-z0-9_]{1,24}")
_CLOCK_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_TOML_POS_RE = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
# The most common tomllib messages; rarer ones are shown in English.
_TOML_MESSAGES = (
    ("Invalid value", "ogiltigt värde – text ska stå inom citattecken"),
    ("Invalid statement", "ogiltig rad"),
    ("Expected '=' after a key", "'=' saknas efter fältnamnet"),
    ("Cannot declare", "samma tabell anges två gånger"),
    ("Cannot overwrite a value", "samma fält anges två gånger"),
    ("Unterminated string", "avslutande citattecken saknas"),
    ("Unclosed array", "avslutande ] saknas i listan"),
    ("Expected ']' at the end", "avslutande ] saknas"),
    ("Expected ']]' at the end", "avslutande ]] saknas"),
    ("Invalid initial character for a key part", "ogiltigt tecken i fältnamnet"),
)


def _error(message: str, **context: Any) -> PydanticCustomError:
    """A validation error whose message is shown to the admin as is."""
    return PydanticCustomError("est", message, context)


def _check_key(value: str) -> str:
    # Keys travel in Telegram callback_data, which is limited to 64 bytes.
    if not _KEY_RE.fullmatch(value):
        raise _error("ogiltig nyckel: endast a-z, 0-9 och _ (högst 24 tecken)")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _error("okänd tidszon: {tz} (t.ex. Europe/Stockholm)", tz=value) from None
    return value


def parse_clock(value: str) -> time:
    """Parse a local time written ``HH:MM``; shared by validation and the scheduler."""
    match = _CLOCK_RE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"ogiltig tid {value!r}: skriv HH:MM, t.ex. 08:00")
    return time(int(match[1]), int(match[2]))


def parse_weekly(value: str) -> tuple[int, time]:
    """Parse ``"fri 23:30"`` into (weekday with Monday = 0, local time)."""
    day, _, clock = value.strip().lower().partition(" ")
    if day not in WEEKDAYS or not _CLOCK_RE.fullmatch(clock.strip()):
        raise ValueError(
            f'ogiltig tid {value!r}: skriv veckodag och HH:MM, t.ex. "fri 23:30" '
            f"(veckodagar: {', '.join(WEEKDAYS)})"
        )
    return WEEKDAYS.index(day), parse_clock(clock)


def _clock_or_off(value: str | None) -> str | None:
    # TOML has no null, so an empty string is how an admin turns a mailing off.
    if value is None or not value.strip():
        return None
    try:
        return parse_clock(value).strftime("%H:%M")
    except ValueError as exc:
        raise _error(str(exc)) from None


def _weekly(value: str) -> str:
    try:
        day, clock = parse_weekly(value)
    except ValueError as exc:
        raise _error(str(exc)) from None
    return f"{WEEKDAYS[day]} {clock:%H:%M}"


Key = Annotated[str, AfterValidator(_check_key)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Labels become phone buttons; longer ones get cut off on small screens.
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
Clock = Annotated[str | None, AfterValidator(_clock_or_off)]
Weekly = Annotated[str, AfterValidator(_weekly)]


class _Model(BaseModel):
    # strict: TOML already has types, so "2" for a number or "yes" for a bool is a mistake.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Place(_Model):
    key: Key
    name: Text
    # Bounds of Sweden: catches swapped lat/lon, which is the usual slip.
    lat: float | None = Field(None, ge=55.0, le=69.5)
    lon: float | None = Field(None, ge=10.5, le=24.5)

    @model_validator(mode="after")
    def _both_or_neither(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise _error("ange både lat och lon, eller ingen av dem")
        return self


class BoundingBox(_Model):
    """The deployment's area for shared locations (est.geo); without it, the places'."""

    south: float = Field(ge=55.0, le=69.5)
    north: float = Field(ge=55.0, le=69.5)
    west: float = Field(ge=10.5, le=24.5)
    east: float = Field(ge=10.5, le=24.5)

    @model_validator(mode="after")
    def _edges_in_order(self) -> Self:
        if self.south >= self.north:
            raise _error("south måste vara mindre än north")
        if self.west >= self.east:
            raise _error("west måste vara mindre än east")
        return self

    def contains(self, lat: float, lon: float) -> bool:
        return self.south <= lat <= self.north and self.west <= lon <= self.east


class Area(_Model):
    key: Key
    name: Text
    places: list[Place] = Field(default_factory=list)


class Organisation(_Model):
    key: Key
    name: Text
    kind: OrgKind
    areas: list[Key] | None = Field(None, min_length=1)


class Category(_Model):
    key: Key
    label: Label
    weight: float = Field(ge=0, allow_inf_nan=False)
    visible_to: list[OrgKind] | None = Field(None, min_length=1)
    urgent: bool = False
    calm: bool = False
    positive: bool = False

    @model_validator(mode="after")
    def _calm_is_plain(self) -> Self:
        if self.calm and (self.urgent or self.positive):
            raise _error("en calm-kategori kan inte också vara urgent eller positive")
        return self

    @property
    def is_problem(self) -> bool:
        """A problem is what is neither calm ("Lugnt") nor positive: it counts in levels,
        hotspots, trends and problem counts."""
        return not self.calm and not self.positive


class Reporting(_Model):
    edit_window_minutes: int = Field(30, ge=0)
    free_text_max: int = Field(500, ge=1, le=4000)
    free_text_in_groups: bool = False


class Schedule(_Model):
    lagesbild_daily: Clock = "08:00"
    thursday_digest: Clock = "08:00"
    friday_briefing: Clock = "19:00"
    reminders: list[Weekly] = Field(default_factory=lambda: ["fri 23:30", "sat 23:30"])
    grace_minutes: int = Field(120, ge=0)


class Analysis(_Model):
    """Rules of the suggested level (see est.analysis) and of the alerts built on it."""

    window_days: int = Field(3, ge=1, le=28)
    half_life_days: float = Field(2.0, gt=0)
    multi_org_bonus: float = Field(1.5, ge=1)
    multi_org_min: int = Field(2, ge=2)
    checklist_weight: float = Field(10.0, ge=0)
    yellow_at: float = Field(6.0, gt=0)
    red_at: float = Field(15.0, gt=0)
    # The same suggestion for an area is not alerted again within this many hours.
    alert_cooldown_hours: float = Field(12.0, ge=0)
    hotspot_threshold: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> Self:
        if self.red_at <= self.yellow_at:
            raise ValueError("red_at måste vara större än yellow_at")
        return self


def _check_inbox_hours(value: int) -> int:
    # Telegram resends an unconfirmed update for up to 24 h, so a handled row forgotten
    # sooner could let an update be handled twice after a crash; the poller itself forgets
    # handled rows after 48 h (bot.core.updates.INBOX_KEEP), so longer cannot be kept.
    if not 24 <= value <= 48:
        raise _error("måste vara mellan 24 och 48: Telegram kan skicka en obekräftad "
                     "uppdatering igen inom ett dygn, och boten glömmer själv hanterade "
                     "uppdateringar efter 48 timmar")
    return value


class Retention(_Model):
    """How long each kind of data is kept, in days: the kommun's gallringsbeslut.

    The defaults are a starting point for that decision, not the decision itself.
    """

    report_text_days: int = Field(90, ge=1)  # free text erased, the report stays
    reporter_link_days: int = Field(365, ge=1)  # the report keeps its organisation only
    report_days: int = Field(1095, ge=1)  # the report goes, its weekly aggregates stay
    abandoned_dialog_days: int = Field(7, ge=1)
    delivery_days: int = Field(90, ge=1)
    # Handled updates (their content is erased at once); see _check_inbox_hours.
    inbox_hours: Annotated[int, AfterValidator(_check_inbox_hours)] = 24
    ended_member_days: int = Field(30, ge=0)  # name of an ended member, then the row's data
    audit_days: int = Field(1825, ge=30)

    @model_validator(mode="after")
    def _in_order(self) -> Self:
        if not self.report_text_days <= self.reporter_link_days <= self.report_days:
            raise _error("report_text_days ≤ reporter_link_days ≤ report_days krävs: först "
                         "raderas fritexten, sedan kopplingen till rapportören, sist rapporten")
        return self


class SchoolHoliday(_Model):
    name: Text
    start: date
    end: date

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.end < self.start:
            raise ValueError("end måste vara samma dag som start eller senare")
        return self


class RiskDate(_Model):
    """A date of the year known to bring unrest (nyår, Valborg, Halloween …), as MM-DD."""

    name: Text
    day: Annotated[str, Field(pattern=r"^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]


class DeploymentConfig(_Model):
    kommun: Text
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "Europe/Stockholm"
    bot_username: str | None = None
    areas: list[Area] = Field(min_length=1)
    organisations: list[Organisation] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)
    reporting: Reporting = Field(default_factory=Reporting)
    schedule: Schedule = Field(default_factory=Schedule)
    analysis: Analysis = Field(default_factory=Analysis)
    retention: Retention = Field(default_factory=Retention)
    school_holidays: list[SchoolHoliday] = Field(default_factory=list)
    risk_dates: list[RiskDate] = Field(default_factory=list)
    # Optional: where shared locations may be (est.geo); else around the places.
    bounding_box: BoundingBox | None = None
    # Optional, per kind of organisation: the categories it reports most, shown first in
    # /rapport (est.report_draft.ordered_categories); the rest follow by use.
    category_order: dict[OrgKind, list[Key]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        # Raised as ConfigError, not a pydantic error, so each issue keeps its exact path.
        issues = _cross_reference_issues(self)
        if issues:
            raise ConfigError("<config>", issues)
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def calm_category(self) -> Category:
        return next(c for c in self.categories if c.calm)

    # Lookups return None for unknown keys: callback data can outlive a config change.
    def area(self, key: str) -> Area | None:
        return next((a for a in self.areas if a.key == key), None)

    def place(self, area_key: str, place_key: str) -> Place | None:
        area = self.area(area_key)
        if area is None:
            return None
        return next((p for p in area.places if p.key == place_key), None)

    def organisation(self, key: str) -> Organisation | None:
        return next((o for o in self.organisations if o.key == key), None)

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)

    def categories_for(self, kind: OrgKind) -> list[Category]:
        return [c for c in self.categories if c.visible_to is None or kind in c.visible_to]

    def known_categories(self, keys: Iterable[str]) -> list[Category]:
        """The configured categories among ``keys``, in the order given; unknown keys are
        skipped (a report can outlive a category removed from the config)."""
        found = (self.category(key) for key in keys)
        return [c for c in found if c is not None]

    def problem_categories(self, keys: Iterable[str] | None = None) -> list[Category]:
        """The problem categories (see ``Category.is_problem``): all of them in config
        order, or the known ones among ``keys`` in the order given."""
        chosen = self.categories if keys is None else self.known_categories(keys)
        return [c for c in chosen if c.is_problem]

    # Names for display: the configured name, else the key itself, so a report, level or
    # button that outlived a config change still shows something recognisable.
    def area_name(self, key: str) -> str:
        area = self.area(key)
        return area.name if area is not None else key

    def place_name(self, area_key: str, place_key: str | None,
                   typed: str | None = None) -> str | None:
        """A configured place's name; else the name the reporter typed, else the key.

        None only when there is neither a place key nor a typed name.
        """
        place = self.place(area_key, place_key) if place_key else None
        if place is not None:
            return place.name
        return typed or place_key

    def organisation_name(self, key: str) -> str:
        org = self.organisation(key)
        return org.name if org is not None else key

    def category_label(self, key: str) -> str:
        category = self.category(key)
        return category.label if category is not None else key


@dataclass(frozen=True)
class ConfigIssue:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """Every problem in one config file, so the admin can fix them all in one go."""

    def __init__(self, source: str, errors: list[ConfigIssue]) -> None:
        super().__init__(source, errors)
        self.source = source
        self.errors = errors

    def __str__(self) -> str:
        lines = [f"Konfigurationen {self.source} är ogiltig ({len(self.errors)} fel):"]
        lines += [f"  {issue}" for issue in self.errors]
        return "\n".join(lines)


def _duplicate_keys(keys: Iterable[tuple[str, str]]) -> list[ConfigIssue]:
    """Keys given as (element path, key); later duplicates point back at the first one."""
    first: dict[str, str] = {}
    issues = []
    for path, key in keys:
        if key in first:
            issues.append(
                ConfigIssue(f"{path}.key", f"nyckeln '{key}' används redan i {first[key]}")
            )
        else:
            first[key] = path
    return issues


def _cross_reference_issues(cfg: DeploymentConfig) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for name in ("areas", "organisations", "categories"):
        items = getattr(cfg, name)
        issues += _duplicate_keys((f"{name}[{i}]", it.key) for i, it in enumerate(items))
    issues += _duplicate_keys(
        (f"areas[{i}].places[{j}]", place.key)
        for i, area in enumerate(cfg.areas)
        for j, place in enumerate(area.places)
    )
    area_keys = {a.key for a in cfg.areas}
    for i, org in enumerate(cfg.organisations):
        for j, ref in enumerate(org.areas or []):
            if ref not in area_keys:
                issues.append(
                    ConfigIssue(
                        f"organisations[{i}].areas[{j}]",
                        f"okänt område '{ref}' (finns inte bland areas)",
                    )
                )
    box = cfg.bounding_box
    for i, area in enumerate(cfg.areas):
        for j, place in enumerate(area.places):
            if box is not None and place.lat is not None and place.lon is not None \
                    and not box.contains(place.lat, place.lon):
                issues.append(ConfigIssue(f"areas[{i}].places[{j}]",
                                          "platsen ligger utanför bounding_box"))
    issues += _category_order_issues(cfg)
    calm = [i for i, c in enumerate(cfg.categories) if c.calm]
    if not calm:
        issues.append(
            ConfigIssue(
                "categories",
                "en kategori måste ha calm = true (”Lugnt – inget att rapportera”)",
            )
        )
    issues += [
        ConfigIssue(f"categories[{i}].calm", "bara en kategori får ha calm = true")
        for i in calm[1:]
    ]
    return issues


def _category_order_issues(cfg: DeploymentConfig) -> list[ConfigIssue]:
    """Each listed category exists, is listed once and is one the kind can report."""
    issues: list[ConfigIssue] = []
    for kind, keys in cfg.category_order.items():
        seen: set[str] = set()
        for i, key in enumerate(keys):
            path = f"category_order.{kind}[{i}]"
            category = cfg.category(key)
            if category is None:
                issues.append(ConfigIssue(path, f"okänd kategori '{key}' (finns inte bland "
                                                "categories)"))
            elif key in seen:
                issues.append(ConfigIssue(path, f"kategorin '{key}' står redan i listan"))
            elif category.calm or category not in cfg.categories_for(kind):
                issues.append(ConfigIssue(path, f"kategorin '{key}' visas inte för {kind} "
                                                "i /rapport"))
            seen.add(key)
    return issues


def _format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(fil)"


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _swedish_message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {})
    simple = {
        "missing": "saknas",
        "extra_forbidden": "okänt fält",
        "string_type": "ska vara text",
        "float_type": "ska vara ett tal",
        "float_parsing": "ska vara ett tal",
        "int_type": "ska vara ett heltal",
        "int_parsing": "ska vara ett heltal",
        "int_from_float": "ska vara ett heltal",
        "finite_number": "ska vara ett ändligt tal",
        "bool_type": "ska vara sant eller falskt (true/false)",
        "bool_parsing": "ska vara sant eller falskt (true/false)",
        "list_type": "ska vara en lista ([...] eller [[...]] i TOML)",
        "model_type": "ska vara en tabell ([...] i TOML)",
        "string_too_short": "får inte vara tom",
    }
    if kind in simple:
        return simple[kind]
    if kind == "est":
        return err["msg"]
    if kind == "literal_error":
        return "måste vara en av: " + ", ".join(re.findall(r"'([^']*)'", ctx["expected"]))
    if kind == "too_short":
        return f"måste ha minst {ctx['min_length']}"
    if kind == "too_long":
        return f"får ha högst {ctx['max_length']}"
    if kind == "string_too_long":
        return f"får vara högst {ctx['max_length']} tecken"
    bounds = {
        "greater_than_equal": ("måste vara minst", "ge"),
        "greater_than": ("måste vara större än", "gt"),
        "less_than_equal": ("får vara högst", "le"),
        "less_than": ("måste vara mindre än", "lt"),
    }
    if kind in bounds:
        text, key = bounds[kind]
        return f"{text} {_number(ctx[key])}"
    return f"ogiltigt värde ({err['msg']})"


def _toml_issue(exc: tomllib.TOMLDecodeError) -> ConfigIssue:
    message = str(exc)
    match = _TOML_POS_RE.search(message)
    if match is not None:
        message = message[: match.start()]
    message = next((sv for en, sv in _TOML_MESSAGES if message.startswith(en)), message)
    if match is None:
        return ConfigIssue("(fil)", f"TOML-syntaxfel: {message}")
    return ConfigIssue(f"rad {match[1]}", f"TOML-syntaxfel: {message} (kolumn {match[2]})")


def parse_config(text: str, source: str = "<config>") -> DeploymentConfig:
    """Parse TOML text; ``source`` names the file in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [_toml_issue(exc)]) from None
    try:
        return DeploymentConfig.model_validate(data)
    except ValidationError as exc:
        issues = [ConfigIssue(_format_loc(e["loc"]), _swedish_message(e)) for e in exc.errors()]
        raise ConfigError(source, issues) from None
    except ConfigError as exc:
        raise ConfigError(source, exc.errors) from None


def load_config(path: str | Path) -> DeploymentConfig:
    source = str(path)
    try:
        # utf-8-sig: Windows editors may prepend a BOM, which tomllib rejects.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(source, [ConfigIssue("(fil)", "filen finns inte")]) from None
    except UnicodeDecodeError:
        raise ConfigError(source, [ConfigIssue("(fil)", "filen är inte UTF-8-kodad")]) from None
    except OSError as exc:
        issue = ConfigIssue("(fil)", f"filen kan inte läsas ({exc.strerror})")
        raise ConfigError(source, [issue]) from None
    return parse_config(text, source)


def default_config_path() -> Path:
    """The bundled Örebro example, used when no config file is given."""
    return Path(str(resources.files("est") / "examples" / "orebro.toml"))
