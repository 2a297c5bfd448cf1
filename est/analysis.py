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
    facts = list(facts)
    strengths = checklist_strengths or {}
    return {
        area.key: suggest_level(area.key, facts, config, now, strengths.get(area.key), rules)
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


def _place_label(fact: ReportFact, config: DeploymentConfig) -> str:
    name = config.place_name(fact.area_key, fact.place_key, fact.place_name)
    return " ".join((name or "").split())


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


def _place_tallies(
    facts: Iterable[ReportFact],
    config: DeploymentConfig,
    start: datetime,
    end: datetime,
    rules: SuggestionRules,
) -> tuple[dict[tuple[str, str], float], Counter[tuple[str, str]], dict[tuple[str, str], str]]:
    """Weighted sum, count and label per (area, place) of problem reports in [start, end)."""
    weighted: dict[tuple[str, str], float] = defaultdict(float)
    counts: Counter[tuple[str, str]] = Counter()
    labels: dict[tuple[str, str], str] = {}
    for fact in sorted(facts, key=lambda f: f.occurred_at):
        key = place_label_key(fact)
        if key is None or fact.withdrawn or not start <= fact.occurred_at < end:
            continue
        problems = _problem_categories(fact, config)
        if not problems:
            continue
        place = (fact.area_key, key)
        weighted[place] += _base_weight(fact, problems, rules)
        counts[place] += 1
        labels.setdefault(place, _place_label(fact, config))
    return weighted, counts, labels


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
    facts = list(facts)
    weighted, counts, labels = _place_tallies(facts, config, period_start, period_end, rules)
    length = period_end - period_start
    earlier = [
        _place_tallies(
            facts, config, period_start - k * length, period_start - (k - 1) * length, rules
        )[1]
        for k in range(1, 5)
    ]
    found = [
        Hotspot(
            area_key=area_key,
            place_label_key=key,
            label=labels[area_key, key],
            weighted=value,
            count=counts[area_key, key],
            trend=trend(counts[area_key, key], [c[area_key, key] for c in earlier]),
        )
        for (area_key, key), value in weighted.items()
        if value >= threshold
    ]
    return sorted(found, key=lambda h: (-h.weighted, h.label))


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
    facts = list(facts)
    weeks: Counter[tuple[str, str]] = Counter()
    labels: dict[tuple[str, str], str] = {}
    for start in week_starts:
        weighted, _, week_labels = _place_tallies(
            facts, config, start, start + timedelta(days=7), rules
        )
        for place, value in weighted.items():
            if value >= threshold:
                weeks[place] += 1
                labels.setdefault(place, week_labels[place])
    found = [
        RecurringDeviation(area_key, key, labels[area_key, key], count)
        for (area_key, key), count in weeks.items()
        if count >= min_weeks
    ]
    return sorted(found, key=lambda r: (-r.weeks, r.label))
