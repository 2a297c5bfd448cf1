"""The analysis step (EST step 2): suggested levels, urgent reports, hotspots and trends.

Suggested level for one area
----------------------------
A report counts when it is in the area, not withdrawn, names at least one problem
category (``Category.is_problem``: neither calm nor positive) and happened in the window
``now - window_days < occurred_at <= now``. Each counted report contributes

    weight × recency × crowd × severity

- weight: the highest ``Category.weight`` among its problem categories;
- recency: 1.0 during the first day (the lägesbild is read daily), then halving every
  ``half_life_days``;
- crowd: by people interval, 1.0 up to 5 people, 1.3 for 6–20, 1.6 for 21–50, 2.0 above;
- severity: 0.75, 1, 1.5, 2 for severity 1–4, and 1 when not given.

Reports from independent organisations about the same area are the strongest sign, so
the sum is multiplied by ``multi_org_bonus`` when at least ``multi_org_min`` organisations
reported problems. The latest checklist strength (0..1) is then added, scaled:

    score = Σ contributions × bonus + strength × checklist_weight

``yellow_at <= score`` suggests gult läge, ``red_at <= score`` rött läge. Orange is never
suggested: it marks the after-work following unrest, which is a coordinator's decision.
All numbers live in ``SuggestionRules`` so a kommun's config can override them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from types import MappingProxyType

from est.config import Category, DeploymentConfig
from est.levels import Level

# Free place names are grouped under this prefix so they never collide with place keys.
FREE_PLACE_PREFIX = "namn:"
HOTSPOT_THRESHOLD = 5.0


@dataclass(frozen=True)
class ReportFact:
    """What the analysis needs to know about one report; no free text, no reporter."""

    report_id: int
    area_key: str
    place_key: str | None
    place_name: str | None
    org_key: str
    category_keys: tuple[str, ...]
    people: str | None
    severity: int | None
    occurred_at: datetime
    withdrawn: bool = False

    def __post_init__(self) -> None:
        # Naive datetimes compare wrongly across DST and with UTC database values.
        if self.occurred_at.utcoffset() is None:
            raise ValueError(f"report {self.report_id}: occurred_at must be timezone-aware")


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class SuggestionRules:
    window_days: int = 3
    half_life_days: float = 2.0
    crowd_factors: Mapping[str, float] = field(
        default_factory=lambda: _frozen(
            {"0": 1.0, "1-2": 1.0, "3-5": 1.0, "6-10": 1.3, "11-20": 1.3, "21-50": 1.6, "50+": 2.0}
        )
    )
    severity_factors: Mapping[int, float] = field(
        default_factory=lambda: _frozen({1: 0.75, 2: 1.0, 3: 1.5, 4: 2.0})
    )
    multi_org_bonus: float = 1.5
    multi_org_min: int = 2
    checklist_weight: float = 10.0
    yellow_at: float = 6.0
    red_at: float = 15.0

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.half_life_days <= 0:
            raise ValueError("window_days must be >= 1 and half_life_days > 0")
        if not 0 < self.yellow_at < self.red_at:
            raise ValueError("thresholds must satisfy 0 < yellow_at < red_at")
        if self.multi_org_bonus < 1 or self.checklist_weight < 0:
            raise ValueError("multi_org_bonus must be >= 1 and checklist_weight >= 0")


def rules_for(config: DeploymentConfig) -> SuggestionRules:
    """The SuggestionRules with this deployment's numbers (the config's [analysis])."""
    analysis = config.analysis
    return SuggestionRules(
        window_days=analysis.window_days, half_life_days=analysis.half_life_days,
        multi_org_bonus=analysis.multi_org_bonus, multi_org_min=analysis.multi_org_min,
        checklist_weight=analysis.checklist_weight, yellow_at=analysis.yellow_at,
        red_at=analysis.red_at,
    )


@dataclass(frozen=True)
class Suggestion:
    level: Level
    score: float
    reasons_sv: list[str]


def recency_factor(age: timedelta, half_life_days: float) -> float:
    """1.0 for the first day, then halving every ``half_life_days``."""
    days = age / timedelta(days=1)
    return 1.0 if days <= 1 else 0.5 ** ((days - 1) / half_life_days)


def _problem_categories(fact: ReportFact, config: DeploymentConfig) -> list[Category]:
    return config.problem_categories(fact.category_keys)


def _is_calm(fact: ReportFact, config: DeploymentConfig) -> bool:
    return any(c.calm for c in config.known_categories(fact.category_keys))


def _base_weight(fact: ReportFact, problems: list[Category], rules: SuggestionRules) -> float:
    """Weight × crowd × severity: everything but recency."""
    weight = max(c.weight for c in problems)
    crowd = rules.crowd_factors.get(fact.people or "", 1.0)
    severity = 1.0 if fact.severity is None else rules.severity_factors.get(fact.severity, 1.0)
    return weight * crowd * severity


def _sv_number(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _lower_first(label: str) -> str:
    # "Skadegörelse" reads as "skadegörelse" mid-sentence, but an acronym stays as is.
    return label[:1].lower() + label[1:] if label[1:2].islower() else label


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _label_list(labels: list[str], limit: int = 4) -> str:
    shown = ", ".join(_lower_first(label) for label in labels[:limit])
    return shown + (" m.fl." if len(labels) > limit else "")


def suggest_level(
    area_key: str,
    facts: Iterable[ReportFact],
    config: DeploymentConfig,
    now: datetime,
    checklist_strength: float | None = None,
    rules: SuggestionRules | None = None,
) -> Suggestion:
    """The level the reports and checklist point to, with the reasons in plain Swedish."""
    rules = rules or SuggestionRules()
    if checklist_strength is not None and not 0 <= checklist_strength <= 1:
        raise ValueError(f"checklist_strength must be in 0..1, got {checklist_strength}")
    window_start = now - timedelta(days=rules.window_days)
    in_window = [
        f
        for f in facts
        if f.area_key == area_key and not f.withdrawn and window_start < f.occurred_at <= now
    ]

    reports_sum = 0.0
    by_category: dict[str, float] = defaultdict(float)
    orgs: set[str] = set()
    urgent: list[str] = []
    counted = calm = 0
    for fact in in_window:
        problems = _problem_categories(fact, config)
        if not problems:
            calm += _is_calm(fact, config)
            continue
        contribution = _base_weight(fact, problems, rules) * recency_factor(
            now - fact.occurred_at, rules.half_life_days
        )
        reports_sum += contribution
        counted += 1
        orgs.add(fact.org_key)
        for category in problems:
            by_category[category.label] += contribution
            if category.urgent and category.label not in urgent:
                urgent.append(category.label)

    bonus = rules.multi_org_bonus if len(orgs) >= rules.multi_org_min else 1.0
    strength = checklist_strength or 0.0
    score = reports_sum * bonus + strength * rules.checklist_weight

    period = "senaste dygnet" if rules.window_days == 1 else f"senaste {rules.window_days} dygnen"
    reasons = []
    if counted:
        labels = sorted(by_category, key=lambda label: -by_category[label])
        reasons.append(
            f"{_plural(counted, 'rapport', 'rapporter')} {period} ({_label_list(labels)})"
        )
    else:
        reasons.append(f"Inga rapporter om problem {period}")
    if urgent:
        reasons.append(f"Akuta kategorier: {_label_list(urgent)}")
    if bonus > 1:
        reasons.append(f"{len(orgs)} organisationer har rapporterat problem i området")
    if calm:
        reasons.append(f"{_plural(calm, 'rapport', 'rapporter')} om lugnt läge")
    if checklist_strength is not None:
        percent = round(checklist_strength * 100)
        if checklist_strength >= 0.5:
            reasons.append(f"Checklistan visar starka varningssignaler ({percent} %)")
        elif checklist_strength >= 0.25:
            reasons.append(f"Checklistan visar vissa varningssignaler ({percent} %)")
        else:
            reasons.append(f"Checklistan visar få varningssignaler ({percent} %)")

    if score >= rules.red_at:
        level = Level.ROD
    elif score >= rules.yellow_at:
        level = Level.GUL
    else:
        level = Level.GRON
    reasons.append(
        f"Poäng {_sv_number(score)} (gult från {_sv_number(rules.yellow_at)}, "
        f"rött från {_sv_number(rules.red_at)})"
    )
    return Suggestion(level, score, reasons)


def suggest_levels(
    facts: Iterable[ReportFact],
    config: DeploymentConfig,
    now: datetime,
    checklist_strengths: Mapping[str, float] | None = None,
    rules: SuggestionRules | None = None,
) -> dict[str, Suggestion]:
    """A suggestion for every configured area, in config order."""
    by_area: dict[str, list[ReportFact]] = defaultdict(list)
    for fact in facts:  # each area reads its own facts only: the same result, once through
        by_area[fact.area_key].append(fact)
    strengths = checklist_strengths or {}
    return {
        area.key: suggest_level(area.key, by_area.get(area.key, []), config, now,
                                strengths.get(area.key), rules)
        for area in config.areas
    }


def urgent_reports(facts: Iterable[ReportFact], config: DeploymentConfig) -> list[ReportFact]:
    """Reports in urgent categories, newest first: these go to coordinators at once."""
    found = [
        f
        for f in facts
        if not f.withdrawn
        and any(c.urgent for c in config.known_categories(f.category_keys))
    ]
    return sorted(found, key=lambda f: f.occurred_at, reverse=True)


# --- hotspots and trends ---------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")


def normalize_place_name(name: str) -> str:
    """Fold case, punctuation and spacing: to a reader "Torget!" and "torget" are one place."""
    return _NON_WORD.sub(" ", name.casefold()).strip()


def place_label_key(fact: ReportFact) -> str | None:
    """A known place's key, else the normalised free name; None when the report has neither."""
    if fact.place_key:
        return fact.place_key
    normalized = normalize_place_name(fact.place_name or "")
    return FREE_PLACE_PREFIX + normalized if normalized else None


def trend(current_count: int, previous_counts: list[int]) -> str:
    """Compare a count with the average of the earlier periods: ökar, minskar or oförändrat.

    Within one report or a quarter of the average counts as unchanged: single reports
    come and go, and a coordinator should not chase noise.
    """
    if not previous_counts:
        raise ValueError("trend needs at least one earlier period")
    average = sum(previous_counts) / len(previous_counts)
    tolerance = max(1.0, 0.25 * average)
    if current_count > average + tolerance:
        return "ökar"
    if current_count < average - tolerance:
        return "minskar"
    return "oförändrat"


@dataclass(frozen=True)
class Hotspot:
    area_key: str
    place_label_key: str
    label: str
    weighted: float
    count: int
    trend: str


@dataclass(frozen=True)
class RecurringDeviation:
    area_key: str
    place_label_key: str
    label: str
    weeks: int


@dataclass(frozen=True)
class PlaceCount:
    """Problem reports of one area, week and place that weigh the same (see est.tallies).

    ``weight`` is the highest weight among each report's problem categories, ``crowd``
    and ``severity`` the factors of its people and severity (``weight_factors``): their
    product is the report's weight (``_base_weight``).
    """

    area_key: str
    week: int
    place_key: str | None
    place_name: str | None
    weight: float
    crowd: float
    severity: float
    count: int
    first_at: datetime  # the earliest occurred_at among them: the label is the first's


def weight_factors(people: str | None, severity: int | None,
                   rules: SuggestionRules) -> tuple[float, float]:
    """The crowd and severity factors of ``_base_weight``."""
    return (rules.crowd_factors.get(people or "", 1.0),
            1.0 if severity is None else rules.severity_factors.get(severity, 1.0))


def count_weight(count: PlaceCount) -> float:
    """One report's weight × crowd × severity, as ``_base_weight`` computes it."""
    return count.weight * count.crowd * count.severity


def _count_label_key(count: PlaceCount) -> str | None:
    if count.place_key:
        return count.place_key
    normalized = normalize_place_name(count.place_name or "")
    return FREE_PLACE_PREFIX + normalized if normalized else None


def place_week_tallies(
    counts: Iterable[PlaceCount], config: DeploymentConfig, rules: SuggestionRules,
) -> dict[int, tuple[dict[tuple[str, str], float], Counter[tuple[str, str]],
                     dict[tuple[str, str], str]]]:
    """Per week: weighted sum, count and label per (area, place) of the counted reports.

    The weighted sum is exact and rounded once (a float is an integer over a power of
    two, so the sum is kept as integers per denominator), so it does not depend on the
    order the reports are added in; the label is that of the place's earliest report.
    """
    sums: dict[tuple[int, str, str], dict[int, int]] = {}
    numbers: dict[int, Counter[tuple[str, str]]] = defaultdict(Counter)
    firsts: dict[tuple[int, str, str], tuple[datetime, str]] = {}
    places: dict[tuple[str, str | None, str | None], tuple[str | None, str]] = {}
    ratios: dict[float, tuple[int, int]] = {}
    for count in counts:
        where = (count.area_key, count.place_key, count.place_name)
        known = places.get(where)
        if known is None:
            name = config.place_name(count.area_key, count.place_key, count.place_name)
            known = places[where] = (_count_label_key(count), " ".join((name or "").split()))
        key, label = known
        if key is None or count.count <= 0:
            continue
        value = count_weight(count)
        ratio = ratios.get(value)
        if ratio is None:
            ratio = ratios[value] = value.as_integer_ratio()
        numerator, denominator = ratio
        slot = (count.week, count.area_key, key)
        by_denominator = sums.setdefault(slot, {})
        by_denominator[denominator] = by_denominator.get(denominator, 0) + numerator * count.count
        numbers[count.week][count.area_key, key] += count.count
        seen = firsts.get(slot)
        if seen is None or (count.first_at, label) < seen:
            firsts[slot] = (count.first_at, label)
    tallies: dict[int, tuple[dict, Counter, dict]] = {
        week: ({}, counted, {}) for week, counted in numbers.items()}
    for slot, by_denominator in sums.items():
        week, area_key, key = slot
        weighted, _, labels = tallies[week]
        weighted[area_key, key] = float(sum(Fraction(n, d) for d, n in by_denominator.items()))
        labels[area_key, key] = firsts[slot][1]
    return tallies


def _period_counts(
    facts: Iterable[ReportFact], config: DeploymentConfig, bounds: list[tuple[datetime, datetime]],
    rules: SuggestionRules,
) -> list[PlaceCount]:
    """PlaceCounts of problem reports per interval (week k = ``bounds[k]``)."""
    found: dict[tuple, list] = {}
    for fact in facts:
        if fact.withdrawn:
            continue
        problems = _problem_categories(fact, config)
        if not problems:
            continue
        for week, (start, end) in enumerate(bounds):
            if not start <= fact.occurred_at < end:
                continue
            key = (fact.area_key, week, fact.place_key, fact.place_name,
                   max(c.weight for c in problems),
                   *weight_factors(fact.people, fact.severity, rules))
            seen = found.setdefault(key, [0, fact.occurred_at])
            seen[0] += 1
            seen[1] = min(seen[1], fact.occurred_at)
    return [PlaceCount(*key, count=n, first_at=first) for key, (n, first) in found.items()]


def _place_tallies(
    facts: Iterable[ReportFact],
    config: DeploymentConfig,
    start: datetime,
    end: datetime,
    rules: SuggestionRules,
) -> tuple[dict[tuple[str, str], float], Counter[tuple[str, str]], dict[tuple[str, str], str]]:
    """Weighted sum, count and label per (area, place) of problem reports in [start, end)."""
    weeks = place_week_tallies(_period_counts(facts, config, [(start, end)], rules), config,
                               rules)
    return weeks.get(0, ({}, Counter(), {}))


def hotspots_from_counts(
    counts: Iterable[PlaceCount],
    config: DeploymentConfig,
    threshold: float = HOTSPOT_THRESHOLD,
    rules: SuggestionRules | None = None,
) -> list[Hotspot]:
    """``hotspots`` of week 0 from PlaceCounts; weeks 1–4 give the trend."""
    return hotspots_from_weeks(place_week_tallies(counts, config, rules or SuggestionRules()),
                               threshold)


def hotspots_from_weeks(weeks: Mapping[int, tuple], threshold: float = HOTSPOT_THRESHOLD,
                        ) -> list[Hotspot]:
    """``hotspots_from_counts`` from their ``place_week_tallies``."""
    empty: tuple[dict, Counter, dict] = ({}, Counter(), {})
    weighted, numbers, labels = weeks.get(0, empty)
    earlier = [weeks.get(k, empty)[1] for k in range(1, 5)]
    found = [
        Hotspot(
            area_key=area_key,
            place_label_key=key,
            label=labels[area_key, key],
            weighted=value,
            count=numbers[area_key, key],
            trend=trend(numbers[area_key, key], [c[area_key, key] for c in earlier]),
        )
        for (area_key, key), value in weighted.items()
        if value >= threshold
    ]
    return sorted(found, key=lambda h: (-h.weighted, h.label))


def recurring_from_counts(
    counts: Iterable[PlaceCount],
    config: DeploymentConfig,
    weeks: Iterable[int],
    threshold: float = HOTSPOT_THRESHOLD,
    min_weeks: int = 3,
    rules: SuggestionRules | None = None,
) -> list[RecurringDeviation]:
    """``recurring_deviations`` over the given weeks of PlaceCounts (in that order)."""
    return recurring_from_weeks(place_week_tallies(counts, config, rules or SuggestionRules()),
                                weeks, threshold, min_weeks)


def recurring_from_weeks(tallies: Mapping[int, tuple], weeks: Iterable[int],
                         threshold: float = HOTSPOT_THRESHOLD, min_weeks: int = 3,
                         ) -> list[RecurringDeviation]:
    """``recurring_from_counts`` from their ``place_week_tallies``."""
    hot: Counter[tuple[str, str]] = Counter()
    labels: dict[tuple[str, str], str] = {}
    for week in weeks:
        weighted, _, week_labels = tallies.get(week, ({}, Counter(), {}))
        for place, value in weighted.items():
            if value >= threshold:
                hot[place] += 1
                labels.setdefault(place, week_labels[place])
    found = [
        RecurringDeviation(area_key, key, labels[area_key, key], count)
        for (area_key, key), count in hot.items()
        if count >= min_weeks
    ]
    return sorted(found, key=lambda r: (-r.weeks, r.label))


def hotspots(
    facts: Iterable[ReportFact],
    config: DeploymentConfig,
    period_start: datetime,
    period_end: datetime,
    threshold: float = HOTSPOT_THRESHOLD,
    rules: SuggestionRules | None = None,
) -> list[Hotspot]:
    """Places whose weighted problem reports in [start, end) reach ``threshold``, worst first.

    Each report weighs weight × crowd × severity (no recency: the period is the unit).
    The trend compares the count with the four periods of the same length before.
    """
    rules = rules or SuggestionRules()
    if period_end <= period_start:
        raise ValueError("period_end must be after period_start")
    length = period_end - period_start
    bounds = [(period_start - k * length, period_end - k * length) for k in range(5)]
    return hotspots_from_counts(_period_counts(facts, config, bounds, rules), config,
                                threshold, rules)


def recurring_deviations(
    facts: Iterable[ReportFact],
    config: DeploymentConfig,
    week_starts: list[datetime],
    threshold: float = HOTSPOT_THRESHOLD,
    min_weeks: int = 3,
    rules: SuggestionRules | None = None,
) -> list[RecurringDeviation]:
    """Återkommande avvikelser: places that were hotspots in ``min_weeks`` of the given weeks.

    Typically the last four week starts with the default of three; a place that flares up
    once is an event, one that keeps returning needs a planned insats.
    """
    rules = rules or SuggestionRules()
    bounds = [(start, start + timedelta(days=7)) for start in week_starts]
    return recurring_from_counts(_period_counts(facts, config, bounds, rules), config,
                                 range(len(bounds)), threshold, min_weeks, rules)
