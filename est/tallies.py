"""Reports counted instead of listed: the input of the lägesbild, the briefing and the digest.

Those three read weeks of reports, but what they show is counts (per area, category,
organisation, place and week) and a handful of single reports (the notable ones). A
``ReportTallies`` holds exactly that, so the database can do the counting in SQL
(``storage.facts.report_tallies``) and only the counts and the shown reports are loaded.
``tally_facts`` makes the same tallies from ``ReportFact`` objects in Python: the compose
functions that take facts go through it, so both ways give the same picture.

Weeks are counted back from ``end``: week 0 is ``[end - period, end)``, week k the k-th
period before it. Withdrawn reports and reports outside the weeks are not counted. The
places (problem reports per place, with or without one) cover every week and give the
problem counts per week too; the kinds (per set of categories) only the first
``kind_weeks``, where the categories themselves are shown.
Visibility (est.visibility) is applied before counting: the tallies hold only what the
reader may see.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from est.analysis import PlaceCount, ReportFact, SuggestionRules, rules_for, weight_factors
from est.config import DeploymentConfig

WEEK = timedelta(days=7)
# A problem report is notable when urgent or at least this severe; NOTABLE_MAX are shown.
NOTABLE_SEVERITY = 3
NOTABLE_MAX = 8


@dataclass(frozen=True)
class KindCount:
    """Reports of one area and week with the same configured categories."""

    area_key: str
    week: int
    category_keys: tuple[str, ...]  # the report's configured categories, in config order
    severe: bool  # severity >= NOTABLE_SEVERITY; only told apart in week 0 (else False)
    count: int


@dataclass(frozen=True)
class OrgCount:
    """Reports of one area and organisation in week 0, with or without a problem."""

    area_key: str
    org_key: str
    problem: bool
    count: int


@dataclass(frozen=True)
class ReportTallies:
    end: datetime
    weeks: int
    kinds: tuple[KindCount, ...] = ()  # weeks below kind_weeks only
    orgs: tuple[OrgCount, ...] = ()
    places: tuple[PlaceCount, ...] = ()  # problem reports only
    # Per area, the first NOTABLE_MAX notable reports of week 0 in the order shown:
    # urgent first, then newest first. How many there are in all is in ``kinds``.
    notable: Mapping[str, tuple[ReportFact, ...]] = field(
        default_factory=lambda: MappingProxyType({}))
    period: timedelta = WEEK
    kind_weeks: int = 1
    # With extra columns (the digest's matrix, est.digest.matrix_bounds): problem reports
    # per (area, column).
    column_counts: Mapping[tuple[str, int], int] = field(
        default_factory=lambda: MappingProxyType({}))

    def week_start(self, week: int) -> datetime:
        return self.end - (week + 1) * self.period

    def problem_counts(self, week: int) -> dict[str, int]:
        """Problem reports per area in ``week`` (from the places, which count them all)."""
        found: dict[str, int] = {}
        for place in self.places:
            if place.week == week:
                found[place.area_key] = found.get(place.area_key, 0) + place.count
        return found

    def for_area(self, area_key: str) -> ReportTallies:
        return self.by_area([area_key])[area_key]

    def by_area(self, area_keys: Iterable[str]) -> dict[str, ReportTallies]:
        """The tallies split by area (one pass over them)."""
        split: dict[str, tuple[list, list, list]] = {key: ([], [], []) for key in area_keys}
        for index, rows in enumerate((self.kinds, self.orgs, self.places)):
            for row in rows:
                found = split.get(row.area_key)
                if found is not None:
                    found[index].append(row)
        return {
            key: ReportTallies(
                end=self.end, weeks=self.weeks, period=self.period,
                kind_weeks=self.kind_weeks, kinds=tuple(kinds), orgs=tuple(orgs),
                places=tuple(places),
                notable=MappingProxyType({key: self.notable.get(key, ())}))
            for key, (kinds, orgs, places) in split.items()
        }


def week_of(occurred_at: datetime, end: datetime, period: timedelta = WEEK) -> int:
    """k such that ``end - (k + 1) * period <= occurred_at < end - k * period``."""
    return -((occurred_at - end) // period) - 1


def category_order(config: DeploymentConfig) -> dict[str, int]:
    return {c.key: i for i, c in enumerate(config.categories)}


def known_keys(config: DeploymentConfig, keys: Iterable[str],
               order: Mapping[str, int] | None = None) -> tuple[str, ...]:
    """The configured ones among ``keys``, in config order (a stable sort: repeats stay)."""
    order = order if order is not None else category_order(config)
    return tuple(sorted((k for k in keys if k in order), key=order.__getitem__))


def is_notable(config: DeploymentConfig, category_keys: Iterable[str], severe: bool) -> bool:
    problem = config.problem_categories(category_keys)
    return bool(problem) and (severe or any(c.urgent for c in problem))


def notable_order(config: DeploymentConfig, facts: Iterable[ReportFact]) -> list[ReportFact]:
    """Notable reports as shown: urgent first, then newest first (ties keep their order)."""
    def urgent(fact: ReportFact) -> bool:
        return any(c.urgent for c in config.problem_categories(fact.category_keys))
    return sorted(facts, key=lambda f: (not urgent(f), -f.occurred_at.timestamp()))


def place_count_key(fact: ReportFact, week: int, weight: float,
                    rules: SuggestionRules) -> tuple:
    return (fact.area_key, week, fact.place_key, fact.place_name, weight,
            *weight_factors(fact.people, fact.severity, rules))


def tally_facts(
    facts: Iterable[ReportFact], config: DeploymentConfig, end: datetime, *, weeks: int,
    kind_weeks: int = 1, period: timedelta = WEEK, notable_max: int = NOTABLE_MAX,
    columns: Sequence[tuple[datetime, datetime]] = (),
) -> ReportTallies:
    """The tallies of the given (already visible) facts: what SQL counts, in Python."""
    column_counts: Counter[tuple[str, int]] = Counter()
    facts = list(facts)
    if columns:
        for fact in facts:
            if fact.withdrawn or not config.problem_categories(fact.category_keys):
                continue
            for column, (lo, hi) in enumerate(columns):
                if lo <= fact.occurred_at < hi:
                    column_counts[fact.area_key, column] += 1
                    break
    order = category_order(config)
    rules = rules_for(config)
    start = end - weeks * period
    kinds: Counter[tuple] = Counter()
    orgs: Counter[tuple] = Counter()
    places: dict[tuple, list] = {}
    notable: dict[str, list[ReportFact]] = defaultdict(list)
    for fact in facts:
        if fact.withdrawn or not start <= fact.occurred_at < end:
            continue
        week = week_of(fact.occurred_at, end, period)
        keys = known_keys(config, fact.category_keys, order)
        severe = week == 0 and (fact.severity or 0) >= NOTABLE_SEVERITY
        if week < kind_weeks:
            kinds[fact.area_key, week, keys, severe] += 1
        problems = config.problem_categories(keys)
        if week == 0:
            orgs[fact.area_key, fact.org_key, bool(problems)] += 1
            if is_notable(config, keys, severe):
                notable[fact.area_key].append(fact)
        if problems:
            key = place_count_key(fact, week, max(c.weight for c in problems), rules)
            found = places.get(key)
            if found is None:
                places[key] = [1, fact.occurred_at]
            else:
                found[0] += 1
                found[1] = min(found[1], fact.occurred_at)
    return ReportTallies(
        end=end, weeks=weeks, period=period, kind_weeks=kind_weeks,
        kinds=tuple(KindCount(a, w, k, s, n) for (a, w, k, s), n in kinds.items()),
        orgs=tuple(OrgCount(a, o, p, n) for (a, o, p), n in orgs.items()),
        places=tuple(PlaceCount(*key, count=n, first_at=first)
                     for key, (n, first) in places.items()),
        notable=MappingProxyType({area: tuple(notable_order(config, found)[:notable_max])
                                  for area, found in notable.items()}),
        column_counts=MappingProxyType(dict(column_counts)),
    )


__all__ = [
    "NOTABLE_MAX",
    "NOTABLE_SEVERITY",
    "WEEK",
    "KindCount",
    "OrgCount",
    "ReportTallies",
    "category_order",
    "is_notable",
    "known_keys",
    "notable_order",
    "tally_facts",
    "week_of",
]
