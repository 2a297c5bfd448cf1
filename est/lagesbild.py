"""The samlad lägesbild (EST step 1 and 5): the picture coordinators read every week.

Per area it holds what the Thursday agenda asks for: the current level with its reason
and who set it when; facts of the last seven days (reports by category, how many
organisations reported, notable reports); hotspots and återkommande avvikelser; the
trend against the four weeks before; upcoming events; planned and running insatser.

Who sees what (seed 002, egen/förmedlad):
- in a coordinator group only förmedlade reports count, whoever asks;
- in a private chat a coordinator sees all förmedlade reports and the egna reports of
  their own organisation;
- without a known viewer, only förmedlade (when in doubt, show less).
The analysis runs on that subset only, so a count or a hotspot never reveals another
organisation's egen reports. Free text appears only where ``free_text_allowed`` says so,
and so do typed place names (of reports and of insatser): elsewhere they read
``est.visibility.OTHER_PLACE``, in notable reports, hotspots and återkommande avvikelser.
Small counts are shown as they are: a single report is a fact worth a line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from est.analysis import (
    Hotspot,
    RecurringDeviation,
    ReportFact,
    SuggestionRules,
    hotspots_from_weeks,
    place_week_tallies,
    recurring_from_weeks,
    rules_for,
    trend,
)
from est.config import DeploymentConfig
from est.levels import Level
from est.risk_days import LOV, known_risk_days
from est.tallies import NOTABLE_MAX, NOTABLE_SEVERITY, ReportTallies, is_notable, tally_facts
from est.visibility import filter_visible, free_text_allowed, shown_place, shown_place_label

PERIOD = timedelta(days=7)
TREND_WEEKS = 4
UPCOMING = timedelta(days=14)
# The analysis counts [start, end); the picture must include a report made this second.
_INCLUSIVE = timedelta(microseconds=1)
# How far back the inputs must reach: this week plus the four weeks before it.
HISTORY_WEEKS = TREND_WEEKS + 1
HISTORY = PERIOD * HISTORY_WEEKS


# --- inputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelInfo:
    """An area's current level as stored; an area without one is grönt."""

    level: Level
    reason: str | None = None
    set_by: str | None = None  # first name of the coordinator
    set_by_org_key: str | None = None
    set_at: datetime | None = None


@dataclass(frozen=True)
class EventInfo:
    """An upcoming event; ``area_key`` None means the whole kommun."""

    area_key: str | None
    starts_at: datetime
    title: str


@dataclass(frozen=True)
class InsatsInfo:
    area_key: str
    place_key: str | None
    place_name: str | None
    what: str
    org_key: str
    starts_at: datetime
    ends_at: datetime
    status: str  # planned | running (others are not part of the picture)


# --- output ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCount:
    label: str
    count: int


@dataclass(frozen=True)
class NotableReport:
    report_id: int
    occurred_at: datetime
    place: str | None
    categories: list[str]
    severity: int | None
    urgent: bool
    text: str | None  # only when free text may be shown here


@dataclass(frozen=True)
class UpcomingEvent:
    starts_at: datetime
    title: str


@dataclass(frozen=True)
class RiskDay:
    """A known risk date, holiday or school holiday in the coming two weeks."""

    moment: datetime  # local noon of the first day, for the ``dag`` filter
    name: str
    until: datetime | None = None  # last day of a holiday period


@dataclass(frozen=True)
class PlannedInsats:
    what: str
    place: str | None
    org_name: str
    starts_at: datetime
    ends_at: datetime
    running: bool


@dataclass(frozen=True)
class AreaPicture:
    area_key: str
    area_name: str
    level: Level
    level_reason: str | None
    level_set_by: str | None
    level_set_by_org: str | None
    level_set_at: datetime | None
    reports: int  # all visible reports of the last 7 days
    problem_reports: int
    calm_reports: int  # "lugna pass": calm shifts are data too
    positive_reports: int
    organisations: int  # organisations that reported anything
    problem_organisations: int
    categories: list[CategoryCount]
    notable: list[NotableReport]
    notable_more: int
    hotspots: list[Hotspot]
    recurring: list[RecurringDeviation]
    trend: str  # ökar | minskar | oförändrat
    previous_weeks: list[int]  # problem reports per week, the four weeks before, newest first
    events: list[UpcomingEvent]
    insatser: list[PlannedInsats]

    @property
    def previous_average(self) -> float:
        return sum(self.previous_weeks) / len(self.previous_weeks)


@dataclass(frozen=True)
class Picture:
    generated_at: datetime
    period_start: datetime
    only_shared: bool  # True: förmedlade only (a group, or no known viewer)
    viewer_org_key: str | None
    viewer_org_name: str | None
    free_text: bool
    areas: list[AreaPicture]
    general_events: list[UpcomingEvent] = field(default_factory=list)
    risk_days: list[RiskDay] = field(default_factory=list)


# --- composing -------------------------------------------------------------------------


def visible_facts(
    facts: Iterable[tuple[ReportFact, str]], viewer_org_key: str | None, in_group: bool
) -> list[ReportFact]:
    """The facts this picture may use: förmedlade, plus the viewer's own egna in private."""
    facts = list(facts)
    if in_group or not viewer_org_key:
        # No organisation key is empty, so this keeps förmedlade reports only.
        return filter_visible(facts, "")
    return filter_visible(facts, viewer_org_key)


def _one_line(text: str | None) -> str | None:
    if not text:
        return None
    line = " ".join(text.split())
    return line or None


def _place_of(fact: ReportFact, config: DeploymentConfig, show_text: bool) -> str | None:
    return shown_place(config, fact.area_key, fact.place_key, fact.place_name,
                       free_text=show_text)


def _area_picture(
    config: DeploymentConfig,
    area_key: str,
    mine: ReportTallies,  # of this area only (compose_picture_from_tallies splits them)
    level: LevelInfo | None,
    events: list[EventInfo],
    insatser: list[InsatsInfo],
    now: datetime,
    rules: SuggestionRules,
    texts: Mapping[int, str],
    show_text: bool,
) -> AreaPicture:
    area = config.area(area_key)
    assert area is not None

    by_category: Counter[str] = Counter()
    problems = calm = positive = notable_count = reports = 0
    for kind in mine.kinds:
        categories = config.known_categories(kind.category_keys)
        problem = [c for c in categories if c.is_problem]
        if kind.week == 0:
            reports += kind.count
            calm += kind.count if any(c.calm for c in categories) else 0
            positive += kind.count if any(c.positive for c in categories) else 0
            if problem:
                problems += kind.count
                for category in problem:
                    by_category[category.key] += kind.count
                if is_notable(config, kind.category_keys, kind.severe):
                    notable_count += kind.count
    # Problem reports per week before, newest first.
    previous = [mine.problem_counts(week).get(area_key, 0) for week in range(1, TREND_WEEKS + 1)]
    orgs = {o.org_key for o in mine.orgs if o.count}
    problem_orgs = {o.org_key for o in mine.orgs if o.count and o.problem}
    order = {c.key: i for i, c in enumerate(config.categories)}
    category_counts = [
        CategoryCount(config.category_label(key), count)
        for key, count in sorted(by_category.items(), key=lambda kv: (-kv[1], order[kv[0]]))
    ]
    notable = []
    for fact in mine.notable.get(area_key, ())[:NOTABLE_MAX]:
        problem = sorted(config.problem_categories(fact.category_keys),
                         key=lambda c: order[c.key])
        notable.append(NotableReport(
            report_id=fact.report_id,
            occurred_at=fact.occurred_at,
            place=_place_of(fact, config, show_text),
            categories=[c.label for c in problem],
            severity=fact.severity,
            urgent=any(c.urgent for c in problem),
            text=_one_line(texts.get(fact.report_id)) if show_text else None,
        ))

    threshold = config.analysis.hotspot_threshold
    weeks = place_week_tallies(mine.places, config, rules)
    spots = [replace(h, label=shown_place_label(h.place_label_key, h.label,
                                                free_text=show_text))
             for h in hotspots_from_weeks(weeks, threshold)]
    recurring = [replace(r, label=shown_place_label(r.place_label_key, r.label,
                                                    free_text=show_text))
                 for r in recurring_from_weeks(weeks, range(TREND_WEEKS), threshold)]

    level = level or LevelInfo(Level.GRON)
    return AreaPicture(
        area_key=area.key,
        area_name=area.name,
        level=level.level,
        level_reason=_one_line(level.reason),
        level_set_by=level.set_by,
        level_set_by_org=(config.organisation_name(level.set_by_org_key)
                          if level.set_by_org_key else None),
        level_set_at=level.set_at,
        reports=reports,
        problem_reports=problems,
        calm_reports=calm,
        positive_reports=positive,
        organisations=len(orgs),
        problem_organisations=len(problem_orgs),
        categories=category_counts,
        notable=notable,
        notable_more=max(0, notable_count - NOTABLE_MAX),
        hotspots=spots,
        recurring=recurring,
        trend=trend(problems, previous),
        previous_weeks=previous,
        events=[UpcomingEvent(e.starts_at, e.title) for e in events if e.area_key == area_key],
        insatser=[_planned(config, i, now, show_text) for i in insatser
                  if i.area_key == area_key],
    )


def _planned(config: DeploymentConfig, insats: InsatsInfo, now: datetime,
             show_text: bool) -> PlannedInsats:
    return PlannedInsats(
        what=insats.what,
        place=shown_place(config, insats.area_key, insats.place_key, insats.place_name,
                          free_text=show_text),
        org_name=config.organisation_name(insats.org_key),
        starts_at=insats.starts_at,
        ends_at=insats.ends_at,
        running=insats.status == "running" or insats.starts_at <= now,
    )


def risk_days(config: DeploymentConfig, now: datetime) -> list[RiskDay]:
    """Risk dates, public holidays and school holidays in the coming two weeks.

    The days and their names come from ``est.risk_days.known_risk_days``, the rule every
    message shares; this only shapes them for the lägesbild, digest and briefing.
    """
    tz = config.tz
    today = now.astimezone(tz).date()
    known = known_risk_days(today, today + timedelta(days=UPCOMING.days),
                            risk_dates=config.risk_dates,
                            school_holidays=config.school_holidays)

    def noon(day: date) -> datetime:
        return datetime.combine(day, time(12), tzinfo=tz)

    # In the order known_risk_days gives, which is also by moment: a lov under way
    # (shown from today) comes first.
    return [RiskDay(noon(max(r.first, today)), ", ".join(r.names),
                    noon(r.last) if r.kind == LOV else None)
            for r in known]


def compose_picture(
    config: DeploymentConfig,
    facts: Iterable[tuple[ReportFact, str]],
    levels: Mapping[str, LevelInfo],
    events: Iterable[EventInfo],
    insatser: Iterable[InsatsInfo],
    now: datetime,
    area_key: str | None = None,
    *,
    viewer_org_key: str | None = None,
    in_group: bool = False,
    free_texts: Mapping[int, str] | None = None,
) -> Picture:
    """The samlad lägesbild for one viewer, for every area or only ``area_key``.

    ``facts`` are (fact, sharing) pairs reaching back at least ``HISTORY`` (five weeks)
    for the trend and the återkommande avvikelser; visibility is applied here.
    ``free_texts`` maps report ids to their (already privacy-filtered) free text.
    """
    shown = visible_facts(facts, viewer_org_key, in_group)
    tallies = tally_facts(shown, config, window_end(now), weeks=HISTORY_WEEKS)
    return compose_picture_from_tallies(
        config, tallies, levels, events, insatser, now, area_key,
        viewer_org_key=viewer_org_key, in_group=in_group, free_texts=free_texts)


def window_end(now: datetime) -> datetime:
    """Where the counted weeks end: just after ``now``, so a report made now counts."""
    return now + _INCLUSIVE


def compose_picture_from_tallies(
    config: DeploymentConfig,
    tallies: ReportTallies,
    levels: Mapping[str, LevelInfo],
    events: Iterable[EventInfo],
    insatser: Iterable[InsatsInfo],
    now: datetime,
    area_key: str | None = None,
    *,
    viewer_org_key: str | None = None,
    in_group: bool = False,
    free_texts: Mapping[int, str] | None = None,
) -> Picture:
    """``compose_picture`` from counts: ``tallies`` of the reports this viewer may see
    (``visible_facts``), ``HISTORY_WEEKS`` weeks ending at ``window_end(now)``."""
    if area_key is not None and config.area(area_key) is None:
        raise ValueError(f"unknown area {area_key!r}")
    if tallies.end != window_end(now) or tallies.period != PERIOD \
            or tallies.weeks < HISTORY_WEEKS:
        raise ValueError("the tallies must be the HISTORY_WEEKS weeks up to window_end(now)")
    show_text = free_text_allowed(in_group, config)
    texts = free_texts or {}
    horizon = now + UPCOMING
    upcoming = sorted((e for e in events if now <= e.starts_at < horizon),
                      key=lambda e: (e.starts_at, e.title))
    open_insatser = sorted(
        (i for i in insatser if i.status in ("planned", "running") and i.ends_at >= now),
        key=lambda i: (i.starts_at, i.what),
    )
    rules = rules_for(config)
    keys = [area_key] if area_key else [a.key for a in config.areas]
    by_area = tallies.by_area(keys)
    areas = [
        _area_picture(config, key, by_area[key], levels.get(key), upcoming, open_insatser,
                      now, rules, texts, show_text)
        for key in keys
    ]
    only_shared = in_group or not viewer_org_key
    viewer_name = None if only_shared else config.organisation_name(viewer_org_key)
    return Picture(
        generated_at=now,
        period_start=now - PERIOD,
        only_shared=only_shared,
        viewer_org_key=None if only_shared else viewer_org_key,
        viewer_org_name=viewer_name,
        free_text=show_text,
        areas=areas,
        general_events=[UpcomingEvent(e.starts_at, e.title) for e in upcoming
                        if e.area_key is None],
        risk_days=risk_days(config, now),
    )


def find_area(config: DeploymentConfig, text: str) -> str | None:
    """An area key from what a person typed: its key or its name, any case."""
    wanted = " ".join(text.split()).casefold()
    if not wanted:
        return None
    for area in config.areas:
        if wanted in (area.key.casefold(), " ".join(area.name.split()).casefold()):
            return area.key
    return None


__all__ = [
    "HISTORY",
    "HISTORY_WEEKS",
    "NOTABLE_MAX",
    "NOTABLE_SEVERITY",
    "PERIOD",
    "AreaPicture",
    "CategoryCount",
    "EventInfo",
    "InsatsInfo",
    "LevelInfo",
    "NotableReport",
    "Picture",
    "PlannedInsats",
    "RiskDay",
    "UpcomingEvent",
    "compose_picture",
    "compose_picture_from_tallies",
    "find_area",
    "risk_days",
    "visible_facts",
    "window_end",
]
