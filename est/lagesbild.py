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
    hotspots,
    recurring_deviations,
    rules_for,
    trend,
)
from est.config import DeploymentConfig
from est.levels import Level
from est.risk_days import LOV, known_risk_days
from est.visibility import filter_visible, free_text_allowed, shown_place, shown_place_label

PERIOD = timedelta(days=7)
TREND_WEEKS = 4
UPCOMING = timedelta(days=14)
NOTABLE_SEVERITY = 3
NOTABLE_MAX = 8
# The analysis counts [start, end); the picture must include a report made this second.
_INCLUSIVE = timedelta(microseconds=1)
# How far back the inputs must reach: this week plus the four weeks before it.
HISTORY = PERIOD * (TREND_WEEKS + 1)


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


def _week_counts(
    facts: list[ReportFact], config: DeploymentConfig, end: datetime
) -> list[int]:
    """Problem reports per week, the four weeks before ``end - PERIOD``, newest first."""
    counts = []
    for k in range(1, TREND_WEEKS + 1):
        start, stop = end - (k + 1) * PERIOD, end - k * PERIOD
        counts.append(sum(1 for f in facts if start <= f.occurred_at < stop
                          and _is_problem(f, config)))
    return counts


def _is_problem(fact: ReportFact, config: DeploymentConfig) -> bool:
    return bool(config.problem_categories(fact.category_keys))


def _area_picture(
    config: DeploymentConfig,
    area_key: str,
    facts: list[ReportFact],
    level: LevelInfo | None,
    events: list[EventInfo],
    insatser: list[InsatsInfo],
    now: datetime,
    end: datetime,
    rules: SuggestionRules,
    texts: Mapping[int, str],
    show_text: bool,
) -> AreaPicture:
    area = config.area(area_key)
    assert area is not None
    start = end - PERIOD
    mine = [f for f in facts if f.area_key == area_key and not f.withdrawn]
    week = [f for f in mine if start <= f.occurred_at < end]

    by_category: Counter[str] = Counter()
    orgs, problem_orgs = set(), set()
    problems = calm = positive = 0
    notable: list[NotableReport] = []
    order = {c.key: i for i, c in enumerate(config.categories)}
    for fact in week:
        orgs.add(fact.org_key)
        categories = sorted(config.known_categories(fact.category_keys),
                            key=lambda c: order[c.key])
        problem = [c for c in categories if c.is_problem]
        calm += any(c.calm for c in categories)
        positive += any(c.positive for c in categories)
        if not problem:
            continue
        problems += 1
        problem_orgs.add(fact.org_key)
        by_category.update(c.key for c in problem)
        urgent = any(c.urgent for c in problem)
        if urgent or (fact.severity or 0) >= NOTABLE_SEVERITY:
            notable.append(NotableReport(
                report_id=fact.report_id,
                occurred_at=fact.occurred_at,
                place=_place_of(fact, config, show_text),
                categories=[c.label for c in problem],
                severity=fact.severity,
                urgent=urgent,
                text=_one_line(texts.get(fact.report_id)) if show_text else None,
            ))
    category_counts = [
        CategoryCount(config.category_label(key), count)
        for key, count in sorted(by_category.items(), key=lambda kv: (-kv[1], order[kv[0]]))
    ]
    notable.sort(key=lambda n: (not n.urgent, -n.occurred_at.timestamp()))

    previous = _week_counts(mine, config, end)
    threshold = config.analysis.hotspot_threshold
    spots = [replace(h, label=shown_place_label(h.place_label_key, h.label,
                                                free_text=show_text))
             for h in hotspots(mine, config, start, end, threshold, rules)]
    week_starts = [end - k * PERIOD for k in range(1, TREND_WEEKS + 1)]
    recurring = [replace(r, label=shown_place_label(r.place_label_key, r.label,
                                                    free_text=show_text))
                 for r in recurring_deviations(mine, config, week_starts, threshold,
                                               rules=rules)]

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
        reports=len(week),
        problem_reports=problems,
        calm_reports=calm,
        positive_reports=positive,
        organisations=len(orgs),
        problem_organisations=len(problem_orgs),
        categories=category_counts,
        notable=notable[:NOTABLE_MAX],
        notable_more=max(0, len(notable) - NOTABLE_MAX),
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
    if area_key is not None and config.area(area_key) is None:
        raise ValueError(f"unknown area {area_key!r}")
    shown = visible_facts(facts, viewer_org_key, in_group)
    show_text = free_text_allowed(in_group, config)
    texts = free_texts or {}
    end = now + _INCLUSIVE
    horizon = now + UPCOMING
    upcoming = sorted((e for e in events if now <= e.starts_at < horizon),
                      key=lambda e: (e.starts_at, e.title))
    open_insatser = sorted(
        (i for i in insatser if i.status in ("planned", "running") and i.ends_at >= now),
        key=lambda i: (i.starts_at, i.what),
    )
    rules = rules_for(config)
    keys = [area_key] if area_key else [a.key for a in config.areas]
    areas = [
        _area_picture(config, key, shown, levels.get(key), upcoming, open_insatser, now,
                      end, rules, texts, show_text)
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
    "find_area",
    "risk_days",
    "visible_facts",
]
