"""The Thursday digest: the coordinators' meeting agenda, filled in from the data.

The weekly meeting (Örebro, seed 002) follows a fixed agenda of seven points; the digest
has one section per point, in that order, with the official headings (``AGENDA``):

1. facts of the last seven days per area and category, with the week before beside them;
2. coming events and known risk days (two weeks ahead);
3. the samlad lägesbild: levels with reasons, hotspots, återkommande avvikelser, and a
   few sentences on the likely development;
4. planned and running insatser;
5.–7. what coordinators flagged with /agenda (beslut, samordning, informera). These
   points are never left out: an empty one says so.

The digest goes to coordinator groups, so it is built from förmedlade reports only
(``est.lagesbild.compose_picture`` with ``in_group=True``) and carries no report free
text and no names; a typed place name is free text too, so hotspots, återkommande
avvikelser and insatser at one read ``est.visibility.OTHER_PLACE`` unless the kommun
lets free text into groups. The area × week level matrix (``level_matrix``) and the hotspot bars
(``hotspot_bars``) are the data of the two pictures that go with it (``est.charts``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from est.analysis import Hotspot, ReportFact, Suggestion, rules_for, suggest_levels
from est.config import DeploymentConfig
from est.lagesbild import (
    HISTORY_WEEKS,
    PERIOD,
    AreaPicture,
    EventInfo,
    InsatsInfo,
    LevelInfo,
    Picture,
    PlannedInsats,
    compose_picture_from_tallies,
    visible_facts,
    window_end,
)
from est.levels import Level
from est.tallies import ReportTallies, tally_facts

# The stored AgendaItem.kind and the agenda point it belongs to.
BESLUT, SAMORDNING, INFORMERA = "beslut", "samordning", "informera"
AGENDA_KINDS: dict[str, int] = {BESLUT: 5, SAMORDNING: 6, INFORMERA: 7}
MATRIX_WEEKS = 8
# The analysis counts [start, end); a report made this very moment belongs in the digest.
_INCLUSIVE = timedelta(microseconds=1)


@dataclass(frozen=True)
class AgendaPoint:
    number: int
    heading: str


# Verbatim from the meeting's dagordning (seed 002), without the final full stops.
AGENDA: tuple[AgendaPoint, ...] = (
    AgendaPoint(1, "Fakta/händelser under senaste veckan"),
    AgendaPoint(2, "Information om kommande händelser"),
    AgendaPoint(3, "Samlad lägesbild, hotspots. Trolig utveckling"),
    AgendaPoint(4, "Planerade åtgärder för att hantera händelsen"),
    AgendaPoint(5, "Behov av nya beslut eller förstärkning"),
    AgendaPoint(6, "Behov av ytterligare samordning på kort sikt"),
    AgendaPoint(7, "Påverkas andra verksamheter som behöver informeras"),
)


def agenda_point(number: int) -> AgendaPoint:
    return AGENDA[number - 1]


# --- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaEntry:
    """An open item a coordinator flagged for points 5–7 (storage.models.AgendaItem)."""

    item_id: int
    kind: str  # beslut | samordning | informera
    text: str
    area_key: str | None
    org_key: str | None  # the flagging coordinator's organisation; never the person
    created_at: datetime


@dataclass(frozen=True)
class LevelChange:
    """One row of an area's level history."""

    area_key: str
    level: Level
    set_at: datetime


# --- output ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryChange:
    label: str
    this_week: int
    last_week: int


@dataclass(frozen=True)
class AreaWeek:
    """Point 1 for one area: the last seven days against the seven before."""

    area_key: str
    area_name: str
    problem_reports: int
    last_week_problem_reports: int
    calm_reports: int
    positive_reports: int
    organisations: int
    categories: list[CategoryChange]


@dataclass(frozen=True)
class ComingItem:
    """Point 2: an event (with its area) or a risk day / holiday (``risk``)."""

    moment: datetime
    title: str
    area_name: str | None = None
    until: datetime | None = None
    risk: bool = False


@dataclass(frozen=True)
class InsatsLine:
    area_name: str
    insats: PlannedInsats


@dataclass(frozen=True)
class FlaggedItem:
    item_id: int
    kind: str
    text: str
    area_name: str | None
    org_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class Digest:
    generated_at: datetime
    period_start: datetime
    week: int  # ISO week number, local time
    facts: list[AreaWeek]
    problem_reports: int
    last_week_problem_reports: int
    calm_reports: int
    coming: list[ComingItem]
    picture: Picture  # point 3: levels, hotspots, återkommande avvikelser, trends
    development: list[str]  # "trolig utveckling", a few plain sentences
    insatser: list[InsatsLine]
    flagged: dict[str, list[FlaggedItem]] = field(default_factory=dict)

    def items(self, kind: str) -> list[FlaggedItem]:
        return self.flagged.get(kind, [])

    @property
    def hotspots(self) -> list[tuple[str, Hotspot]]:
        """(area name, hotspot) of every area, strongest first."""
        found = [(a.area_name, h) for a in self.picture.areas for h in a.hotspots]
        return sorted(found, key=lambda pair: (-pair[1].weighted, pair[1].label))


# --- point 1 ---------------------------------------------------------------------------


def week_facts(config: DeploymentConfig, facts: Iterable[ReportFact],
               end: datetime) -> list[AreaWeek]:
    """Per area: reports in ``[end - 7 d, end)`` by category, and the seven days before."""
    return week_facts_from_tallies(config, tally_facts(facts, config, end, weeks=2,
                                                       kind_weeks=2))


def week_facts_from_tallies(config: DeploymentConfig,
                            tallies: ReportTallies) -> list[AreaWeek]:
    """``week_facts`` from tallies (the kinds of weeks 0 and 1 are used)."""
    if tallies.kind_weeks < 2:
        raise ValueError("week_facts needs the kinds of two weeks")
    order = {c.key: i for i, c in enumerate(config.categories)}
    result = []
    by_area = tallies.by_area(a.key for a in config.areas)
    for area in config.areas:
        mine = by_area[area.key]
        this: Counter[str] = Counter()
        last: Counter[str] = Counter()
        problems = last_problems = calm = positive = 0
        orgs = {o.org_key for o in mine.orgs if o.count}
        for kind in mine.kinds:
            categories = config.known_categories(kind.category_keys)
            keys = [c.key for c in categories if c.is_problem]
            if kind.week == 0:
                calm += kind.count if any(c.calm for c in categories) else 0
                positive += kind.count if any(c.positive for c in categories) else 0
                if keys:
                    problems += kind.count
                    for key in keys:
                        this[key] += kind.count
            elif kind.week == 1 and keys:
                last_problems += kind.count
                for key in keys:
                    last[key] += kind.count
        categories = [
            CategoryChange(config.category_label(key), this[key], last[key])
            for key in sorted(set(this) | set(last),
                              key=lambda k: (-this[k], -last[k], order[k]))
        ]
        result.append(AreaWeek(area.key, area.name, problems, last_problems, calm, positive,
                               len(orgs), categories))
    return result


# --- points 2, 4 and 5–7 ----------------------------------------------------------------


def coming_items(config: DeploymentConfig, picture: Picture) -> list[ComingItem]:
    """Events of the coming two weeks (kommun-wide and per area) and the risk days."""
    items = [ComingItem(e.starts_at, e.title) for e in picture.general_events]
    for area in picture.areas:
        items += [ComingItem(e.starts_at, e.title, area.area_name) for e in area.events]
    items += [ComingItem(r.moment, r.name, until=r.until, risk=True) for r in picture.risk_days]
    return sorted(items, key=lambda i: (i.moment, i.risk, i.title))


def insats_lines(picture: Picture) -> list[InsatsLine]:
    lines = [InsatsLine(a.area_name, i) for a in picture.areas for i in a.insatser]
    return sorted(lines, key=lambda line: (not line.insats.running, line.insats.starts_at))


def flagged_items(config: DeploymentConfig,
                  entries: Iterable[AgendaEntry]) -> dict[str, list[FlaggedItem]]:
    flagged: dict[str, list[FlaggedItem]] = {kind: [] for kind in AGENDA_KINDS}
    for entry in sorted(entries, key=lambda e: (e.created_at, e.item_id)):
        if entry.kind not in flagged:
            continue
        flagged[entry.kind].append(FlaggedItem(
            item_id=entry.item_id, kind=entry.kind, text=" ".join(entry.text.split()),
            area_name=config.area_name(entry.area_key) if entry.area_key else None,
            org_name=config.organisation_name(entry.org_key) if entry.org_key else None,
            created_at=entry.created_at,
        ))
    return flagged


# --- point 3: trolig utveckling -----------------------------------------------------------


def _names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " och " + names[-1]


def _number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",").removesuffix(",0")


def likely_development(picture: Picture,
                       suggestions: Mapping[str, Suggestion] | None = None) -> list[str]:
    """A few plain sentences on where things are heading, from levels, trends and dates."""
    areas = picture.areas
    sentences = []
    raised = [a for a in areas if a.level != Level.GRON]
    if raised:
        sentences.append("Förhöjt läge: " + _names(
            [f"{a.area_name} ({a.level.value})" for a in
             sorted(raised, key=lambda a: -a.level.rank)]) + ".")
    else:
        sentences.append("Alla områden har grönt läge.")

    def detail(a: AreaPicture) -> str:
        return (f"{a.area_name} ({a.problem_reports} mot i snitt "
                f"{_number(a.previous_average)}/vecka)")

    rising = [a for a in areas if a.trend == "ökar"]
    falling = [a for a in areas if a.trend == "minskar"]
    if rising:
        sentences.append("Problemrapporterna ökar i " + _names([detail(a) for a in rising])
                         + " – risk för fortsatt oro där om inget görs.")
    if falling:
        sentences.append("De minskar i " + _names([detail(a) for a in falling]) + ".")
    if not rising and not falling:
        sentences.append("Antalet problemrapporter är i stort oförändrat jämfört med de fyra "
                         "veckorna före; inget tyder på en förändring den närmaste veckan.")
    for level in (Level.ROD, Level.GUL):
        pointing = [a.area_name for a in areas
                    if (sug := (suggestions or {}).get(a.area_key)) is not None
                    and sug.level == level and level.rank > a.level.rank
                    and a.level != Level.ORANGE]
        if pointing:
            sentences.append(f"Rapporterna pekar mot {level.display_name.lower()} i "
                             f"{_names(pointing)}.")
    recurring = sorted({r.label for a in areas for r in a.recurring})
    if recurring:
        sentences.append("Återkommande avvikelser (" + _names(recurring)
                         + ") behöver en planerad insats snarare än tillfälliga.")
    return sentences


# --- the digest ------------------------------------------------------------------------


def compose_digest(
    config: DeploymentConfig,
    facts: Iterable[tuple[ReportFact, str]],
    levels: Mapping[str, LevelInfo],
    events: Iterable[EventInfo],
    insatser: Iterable[InsatsInfo],
    agenda: Iterable[AgendaEntry],
    now: datetime,
    checklist_strengths: Mapping[str, float] | None = None,
) -> Digest:
    """The seven points for the meeting, from förmedlade reports only.

    ``facts`` are (fact, sharing) pairs reaching back at least five weeks (the trend and
    återkommande avvikelser need them); egna reports are dropped here whoever reads it.
    """
    shown = visible_facts(facts, None, in_group=True)
    # The digest shows no single report: its picture lists none (storage reads none).
    tallies = tally_facts(shown, config, window_end(now), weeks=HISTORY_WEEKS, kind_weeks=2,
                          notable_max=0)
    return compose_digest_from_tallies(config, tallies, shown, levels, events, insatser,
                                       agenda, now, checklist_strengths)


def compose_digest_from_tallies(
    config: DeploymentConfig,
    tallies: ReportTallies,
    recent: Iterable[ReportFact],
    levels: Mapping[str, LevelInfo],
    events: Iterable[EventInfo],
    insatser: Iterable[InsatsInfo],
    agenda: Iterable[AgendaEntry],
    now: datetime,
    checklist_strengths: Mapping[str, float] | None = None,
) -> Digest:
    """``compose_digest`` from the tallies of the förmedlade reports (``HISTORY_WEEKS``
    weeks up to ``window_end(now)``, the kinds of two) and ``recent``: the förmedlade reports of the
    suggestion's window (``SuggestionRules.window_days`` up to ``now``; more may be given)."""
    picture = compose_picture_from_tallies(config, tallies, levels, events, insatser, now,
                                           in_group=True)
    area_weeks = week_facts_from_tallies(config, tallies)
    suggestions = suggest_levels(recent, config, now, checklist_strengths,
                                 rules_for(config))
    return Digest(
        generated_at=now,
        period_start=now - PERIOD,
        week=now.astimezone(config.tz).isocalendar().week,
        facts=area_weeks,
        problem_reports=sum(a.problem_reports for a in area_weeks),
        last_week_problem_reports=sum(a.last_week_problem_reports for a in area_weeks),
        calm_reports=sum(a.calm_reports for a in area_weeks),
        coming=coming_items(config, picture),
        picture=picture,
        development=likely_development(picture, suggestions),
        insatser=insats_lines(picture),
        flagged=flagged_items(config, agenda),
    )


# --- the area × week matrix --------------------------------------------------------------


@dataclass(frozen=True)
class MatrixCell:
    level: Level  # the highest level the area held during the week
    reports: int  # problem reports (förmedlade) that week


@dataclass(frozen=True)
class LevelMatrix:
    area_keys: list[str]
    area_names: list[str]
    week_starts: list[date]  # Mondays, oldest first; the last is the current week
    week_numbers: list[int]
    cells: list[list[MatrixCell]]  # rows: areas, columns: weeks

    @property
    def week_labels(self) -> list[str]:
        return [f"v. {n}" for n in self.week_numbers]

    def cell(self, area_key: str, week_start: date) -> MatrixCell:
        return self.cells[self.area_keys.index(area_key)][self.week_starts.index(week_start)]


def week_starts(today: date, weeks: int = MATRIX_WEEKS) -> list[date]:
    """The Mondays of the last ``weeks`` ISO weeks, oldest first, ending with today's week."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


def matrix_since(config: DeploymentConfig, now: datetime,
                 weeks: int = MATRIX_WEEKS) -> datetime:
    """The UTC moment the matrix starts: Monday 00:00 local of the oldest week."""
    first = week_starts(now.astimezone(config.tz).date(), weeks)[0]
    return datetime.combine(first, time(0), tzinfo=config.tz).astimezone(UTC)


def level_at(changes: Iterable[LevelChange], moment: datetime) -> Level:
    """The level one area held at ``moment`` (its last change up to then; grönt before any)."""
    held = Level.GRON
    for change in sorted(changes, key=lambda c: c.set_at):
        if change.set_at <= moment:
            held = change.level
    return held


def highest_level(changes: list[LevelChange], start: datetime, end: datetime) -> Level:
    """The highest level held in ``[start, end)``, from one area's changes in time order."""
    held = Level.GRON
    for change in changes:
        if change.set_at <= start:
            held = change.level
    during = [c.level for c in changes if start < c.set_at < end]
    return max([held, *during], key=lambda level: level.rank)


def level_matrix(
    config: DeploymentConfig,
    changes: Iterable[LevelChange],
    facts: Iterable[ReportFact],
    now: datetime,
    weeks: int = MATRIX_WEEKS,
) -> LevelMatrix:
    """Areas × the last ``weeks`` ISO weeks (local time): level held and problem reports.

    Give it the förmedlade facts only (it counts what it is given) and the full level
    history up to ``now``; nothing after ``now`` counts, so a past date previews right.
    """
    bounds = matrix_bounds(config, now, weeks)
    problem_keys = {c.key for c in config.problem_categories()}
    counts: Counter[tuple[str, int]] = Counter()
    for fact in facts:
        if fact.withdrawn or not problem_keys.intersection(fact.category_keys):
            continue
        for column, (start, stop) in enumerate(bounds):
            if start <= fact.occurred_at < stop:
                counts[fact.area_key, column] += 1
                break
    return level_matrix_from_counts(config, changes, counts, now, weeks)


def matrix_bounds(config: DeploymentConfig, now: datetime,
                  weeks: int = MATRIX_WEEKS) -> list[tuple[datetime, datetime]]:
    """The matrix's columns as UTC ``[start, stop)``: ISO weeks in local time, oldest
    first; the last one stops just after ``now``."""
    tz = config.tz
    bounds = []
    for monday in week_starts(now.astimezone(tz).date(), weeks):
        start = datetime.combine(monday, time(0), tzinfo=tz).astimezone(UTC)
        stop = datetime.combine(monday + timedelta(weeks=1), time(0), tzinfo=tz).astimezone(UTC)
        bounds.append((start, min(stop, now + _INCLUSIVE)))
    return bounds


def level_matrix_from_counts(
    config: DeploymentConfig,
    changes: Iterable[LevelChange],
    counts: Mapping[tuple[str, int], int],
    now: datetime,
    weeks: int = MATRIX_WEEKS,
) -> LevelMatrix:
    """``level_matrix`` from the förmedlade problem reports counted per (area, column of
    ``matrix_bounds``)."""
    tz = config.tz
    starts = week_starts(now.astimezone(tz).date(), weeks)
    bounds = matrix_bounds(config, now, weeks)
    history: dict[str, list[LevelChange]] = {}
    for change in sorted(changes, key=lambda c: c.set_at):
        if change.set_at <= now:
            history.setdefault(change.area_key, []).append(change)
    cells = [
        [MatrixCell(highest_level(history.get(area.key, []), start, stop),
                    counts.get((area.key, column), 0))
         for column, (start, stop) in enumerate(bounds)]
        for area in config.areas
    ]
    return LevelMatrix(
        area_keys=[a.key for a in config.areas],
        area_names=[a.name for a in config.areas],
        week_starts=starts,
        week_numbers=[monday.isocalendar().week for monday in starts],
        cells=cells,
    )


# --- hotspot bars ------------------------------------------------------------------------


@dataclass(frozen=True)
class HotspotBar:
    label: str  # "Vivallaskolan (Vivalla)"
    weighted: float
    count: int
    colour: str  # the area's level colour


def hotspot_bars(picture: Picture, limit: int = 12) -> list[HotspotBar]:
    """This week's hotspots of all areas, strongest first."""
    bars = [
        HotspotBar(f"{h.label} ({a.area_name})", h.weighted, h.count, a.level.colour)
        for a in picture.areas for h in a.hotspots
    ]
    return sorted(bars, key=lambda b: (-b.weighted, b.label))[:limit]


__all__ = [
    "AGENDA",
    "AGENDA_KINDS",
    "BESLUT",
    "INFORMERA",
    "SAMORDNING",
    "AgendaEntry",
    "AgendaPoint",
    "AreaWeek",
    "CategoryChange",
    "ComingItem",
    "Digest",
    "FlaggedItem",
    "HotspotBar",
    "InsatsLine",
    "LevelChange",
    "LevelMatrix",
    "MatrixCell",
    "agenda_point",
    "compose_digest",
    "compose_digest_from_tallies",
    "highest_level",
    "hotspot_bars",
    "level_at",
    "level_matrix",
    "level_matrix_from_counts",
    "likely_development",
    "matrix_bounds",
    "matrix_since",
    "week_facts",
    "week_facts_from_tallies",
    "week_starts",
]
