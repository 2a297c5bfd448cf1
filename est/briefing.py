"""The Friday utsättning (briefing): what everyone in the field this weekend should know.

At 19.00 on Friday everyone who works or night-walks during the weekend gets a current
lägesbild (seed 002). On a phone, in a minute: the level per area, where to pay extra
attention this weekend (this week's hotspots, events and risk days until Sunday), what
changed since last Friday, short practical advice for the levels that hold, and the
reminder to report – calm shifts too.

It goes to every field member and to briefing groups, whatever their organisation, so it
is built from förmedlade reports only and holds aggregated counts only: no free text, no
names, no level reasons (those may mention details; coordinators see them elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from est.analysis import ReportFact, hotspots_from_counts, rules_for
from est.config import DeploymentConfig
from est.digest import LevelChange, level_at
from est.lagesbild import (
    HISTORY_WEEKS,
    PERIOD,
    EventInfo,
    RiskDay,
    risk_days,
    visible_facts,
    window_end,
)
from est.levels import Level
from est.tallies import ReportTallies, tally_facts
from est.visibility import OTHER_PLACE, shown_place_label

HOTSPOTS_SHOWN = 3
EVENTS_SHOWN = 4
_INCLUSIVE = timedelta(microseconds=1)

# Short, concrete advice per level, for people on the street (seed 002's levels).
ADVICE: dict[Level, str] = {
    Level.GRON: "normalläge – gå i par som vanligt, var synliga och prata med de ni möter.",
    Level.GUL: "gå i par, håll avstånd till grupper som samlas, gå inte in i konflikter "
               "och rapportera tidigt – hellre en rapport för mycket.",
    Level.ROD: "följ polisens och samordnarens anvisningar, undvik området om ni inte har "
               "ett uppdrag där och ring 112 vid fara.",
    Level.ORANGE: "oroligheterna har lagt sig – var synliga, prata med boende och rapportera "
                  "det som fortfarande oroar.",
}
# Most urgent advice first.
_ADVICE_ORDER = (Level.ROD, Level.GUL, Level.ORANGE)


@dataclass(frozen=True)
class AreaBrief:
    area_key: str
    area_name: str
    level: Level
    previous_level: Level  # a week ago
    problem_reports: int  # last seven days
    previous_problem_reports: int  # the seven days before

    @property
    def level_changed(self) -> bool:
        return self.level != self.previous_level

    @property
    def raised(self) -> bool:
        return self.level.rank > self.previous_level.rank


@dataclass(frozen=True)
class WatchPlace:
    label: str
    area_name: str
    count: int  # problem reports at the place during the last seven days


@dataclass(frozen=True)
class WeekendEvent:
    starts_at: datetime
    title: str
    area_name: str | None


@dataclass(frozen=True)
class Advice:
    level: Level
    label: str  # the areas it is for: "Vivalla, Oxhagen", "Övriga områden", "Alla områden"
    text: str


@dataclass(frozen=True)
class Briefing:
    generated_at: datetime
    weekend_end: datetime  # Monday 00:00 local after this weekend
    areas: list[AreaBrief]
    places: list[WatchPlace]
    events: list[WeekendEvent]
    events_more: int
    risk: list[RiskDay]
    problem_reports: int
    previous_problem_reports: int
    calm_reports: int
    advice: list[Advice]

    @property
    def level_changes(self) -> list[AreaBrief]:
        return [a for a in self.areas if a.level_changed]

    @property
    def more(self) -> list[AreaBrief]:
        return [a for a in self.areas if a.problem_reports > a.previous_problem_reports]

    @property
    def fewer(self) -> list[AreaBrief]:
        return [a for a in self.areas if a.problem_reports < a.previous_problem_reports]


def weekend_end(config: DeploymentConfig, now: datetime) -> datetime:
    """Monday 00:00 local after ``now`` (the end of this weekend)."""
    today = now.astimezone(config.tz).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime.combine(monday, time(0), tzinfo=config.tz)


def advice_for(areas: Iterable[AreaBrief]) -> list[Advice]:
    """Advice for each level that holds somewhere, most urgent first; grönt last."""
    areas = list(areas)
    found = []
    for level in _ADVICE_ORDER:
        names = [a.area_name for a in areas if a.level == level]
        if names:
            found.append(Advice(level, ", ".join(names), ADVICE[level]))
    if not found or any(a.level == Level.GRON for a in areas):
        label = "Övriga områden" if found else "Alla områden"
        found.append(Advice(Level.GRON, label, ADVICE[Level.GRON]))
    return found


def compose_briefing(
    config: DeploymentConfig,
    facts: Iterable[tuple[ReportFact, str]],
    level_changes: Iterable[LevelChange],
    events: Iterable[EventInfo],
    now: datetime,
) -> Briefing:
    """The utsättning at ``now`` (normally Friday 19.00), from förmedlade reports only.

    ``facts`` reach back at least six weeks (hotspot trends need five); ``level_changes``
    is the level history up to ``now``; ``events`` may be any superset of this weekend's.
    """
    shown = visible_facts(facts, None, in_group=True)
    tallies = tally_facts(shown, config, window_end(now), weeks=HISTORY_WEEKS)
    return compose_briefing_from_tallies(config, tallies, level_changes, events, now)


def compose_briefing_from_tallies(
    config: DeploymentConfig,
    tallies: ReportTallies,
    level_changes: Iterable[LevelChange],
    events: Iterable[EventInfo],
    now: datetime,
) -> Briefing:
    """``compose_briefing`` from the tallies of the förmedlade reports (``HISTORY_WEEKS``
    weeks up to ``window_end(now)``)."""
    if tallies.end != now + _INCLUSIVE or tallies.period != PERIOD \
            or tallies.weeks < HISTORY_WEEKS:
        raise ValueError("the tallies must be the HISTORY_WEEKS weeks up to window_end(now)")
    changes = list(level_changes)
    week_ago = now - PERIOD
    this_week, last_week = tallies.problem_counts(0), tallies.problem_counts(1)
    calm = sum(k.count for k in tallies.kinds if k.week == 0
               and any(c.calm for c in config.known_categories(k.category_keys)))
    areas = []
    for area in config.areas:
        mine = [c for c in changes if c.area_key == area.key]
        areas.append(AreaBrief(
            area_key=area.key, area_name=area.name,
            level=level_at(mine, now), previous_level=level_at(mine, week_ago),
            problem_reports=this_week.get(area.key, 0),
            previous_problem_reports=last_week.get(area.key, 0),
        ))
    spots = hotspots_from_counts(tallies.places, config, config.analysis.hotspot_threshold,
                                 rules_for(config))
    names = {a.key: a.name for a in config.areas}
    # A typed place name is the reporter's own words, free text, which the briefing never
    # carries: only configured places are named.
    places = [WatchPlace(shown_place_label(h.place_label_key, h.label, free_text=False),
                         names.get(h.area_key, h.area_key), h.count)
              for h in spots[:HOTSPOTS_SHOWN]]
    until = weekend_end(config, now)
    coming = sorted((e for e in events if now <= e.starts_at < until),
                    key=lambda e: (e.starts_at, e.title))
    weekend_events = [
        WeekendEvent(e.starts_at, e.title, names.get(e.area_key) if e.area_key else None)
        for e in coming
    ]
    risk = [r for r in risk_days(config, now) if r.moment < until]
    return Briefing(
        generated_at=now,
        weekend_end=until,
        areas=areas,
        places=places,
        events=weekend_events[:EVENTS_SHOWN],
        events_more=max(0, len(weekend_events) - EVENTS_SHOWN),
        risk=risk,
        problem_reports=sum(a.problem_reports for a in areas),
        previous_problem_reports=sum(a.previous_problem_reports for a in areas),
        calm_reports=calm,
        advice=advice_for(areas),
    )


__all__ = [
    "ADVICE",
    "OTHER_PLACE",
    "Advice",
    "AreaBrief",
    "Briefing",
    "WatchPlace",
    "WeekendEvent",
    "advice_for",
    "compose_briefing",
    "compose_briefing_from_tallies",
    "weekend_end",
]
