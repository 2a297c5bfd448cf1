from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from est.analysis import (
    FREE_PLACE_PREFIX,
    Hotspot,
    RecurringDeviation,
    ReportFact,
    SuggestionRules,
    hotspots,
    normalize_place_name,
    place_label_key,
    recency_factor,
    recurring_deviations,
    suggest_level,
    suggest_levels,
    trend,
    urgent_reports,
)
from est.config import default_config_path, load_config
from est.levels import Level
from est.report_draft import PEOPLE_CHOICES

CONFIG = load_config(default_config_path())
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)

_ids = iter(range(1, 1_000_000))


def fact(**changes) -> ReportFact:
    """A plain skadegörelse (weight 2) at Vivalla centrum an hour ago: score 2.0 alone."""
    base = ReportFact(
        report_id=next(_ids),
        area_key="vivalla",
        place_key="viv_centrum",
        place_name=None,
        org_key="nattvandrarna",
        category_keys=("skadegorelse",),
        people="3-5",
        severity=2,
        occurred_at=NOW - HOUR,
    )
    return replace(base, **changes)


def score(*facts, **kwargs) -> float:
    return suggest_level("vivalla", list(facts), CONFIG, NOW, **kwargs).score


# --- the score ---------------------------------------------------------------------------


def test_no_reports_is_green_with_a_reason():
    suggestion = suggest_level("vivalla", [], CONFIG, NOW)
    assert suggestion.level is Level.GRON
    assert suggestion.score == 0
    assert suggestion.reasons_sv[0] == "Inga rapporter om problem senaste 3 dygnen"


def test_one_serious_report_is_yellow_with_every_factor_applied():
    stones = fact(category_keys=("stenkastning",), people="6-10", severity=3)
    suggestion = suggest_level("vivalla", [stones], CONFIG, NOW)
    assert suggestion.score == pytest.approx(4 * 1.3 * 1.5)
    assert suggestion.level is Level.GUL
    assert suggestion.reasons_sv[0] == "1 rapport senaste 3 dygnen (stenkastning)"
    assert suggestion.reasons_sv[-1] == "Poäng 7,8 (gult från 6,0, rött från 15,0)"


def test_three_serious_reports_are_red():
    stones = [
        fact(category_keys=("stenkastning",), people="6-10", severity=3, occurred_at=NOW - k * HOUR)
        for k in range(1, 4)
    ]
    suggestion = suggest_level("vivalla", stones, CONFIG, NOW)
    assert suggestion.score == pytest.approx(3 * 7.8)
    assert suggestion.level is Level.ROD
    assert suggestion.reasons_sv[0].startswith("3 rapporter senaste 3 dygnen")


@pytest.mark.parametrize(
    ("people", "factor"),
    [
        ("0", 1.0),
        ("1-2", 1.0),
        ("3-5", 1.0),
        ("6-10", 1.3),
        ("11-20", 1.3),
        ("21-50", 1.6),
        ("50+", 2.0),
        (None, 1.0),
        ("okänt", 1.0),
    ],
)
def test_crowd_factor(people, factor):
    assert score(fact(people=people)) == pytest.approx(2 * factor)


def test_every_people_choice_has_a_crowd_factor():
    assert set(PEOPLE_CHOICES) <= set(SuggestionRules().crowd_factors)


@pytest.mark.parametrize(
    ("severity", "factor"), [(1, 0.75), (2, 1.0), (3, 1.5), (4, 2.0), (None, 1)]
)
def test_severity_factor(severity, factor):
    assert score(fact(severity=severity)) == pytest.approx(2 * factor)


def test_weight_is_the_highest_of_the_report_categories():
    assert score(fact(category_keys=("samling", "bilbrand", "skadegorelse"))) == pytest.approx(4)


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (("lugnt",), 0),
        (("positivt",), 0),
        (("borttagen_kategori",), 0),
        (("positivt", "skadegorelse"), 2),
        (("borttagen_kategori", "skadegorelse"), 2),
    ],
)
def test_only_problem_categories_count(categories, expected):
    assert score(fact(category_keys=categories)) == pytest.approx(expected)


def test_withdrawn_and_other_areas_do_not_count():
    assert score(fact(withdrawn=True), fact(area_key="oxhagen")) == 0


def test_calm_reports_are_mentioned_but_do_not_count():
    suggestion = suggest_level(
        "vivalla", [fact(category_keys=("lugnt",)), fact(category_keys=("lugnt",))], CONFIG, NOW
    )
    assert suggestion.score == 0
    assert "2 rapporter om lugnt läge" in suggestion.reasons_sv


@pytest.mark.parametrize(
    ("age", "counted"),
    [
        (timedelta(0), True),
        (3 * DAY - timedelta(seconds=1), True),
        (3 * DAY, False),
        (4 * DAY, False),
        (-timedelta(minutes=1), False),  # after `now`: not yet known at that moment
    ],
)
def test_window_is_the_last_three_days(age, counted):
    assert (score(fact(occurred_at=NOW - age)) > 0) is counted


def test_older_reports_weigh_less():
    assert score(fact(occurred_at=NOW - 12 * HOUR)) == pytest.approx(2.0)
    assert score(fact(occurred_at=NOW - 2 * DAY)) == pytest.approx(2 * 0.5**0.5)
    assert score(fact(occurred_at=NOW - 3 * DAY + HOUR)) == pytest.approx(
        2 * 0.5 ** ((2 - 1 / 24) / 2)
    )


def test_two_organisations_give_the_bonus():
    same_org = [fact(), fact()]
    two_orgs = [fact(), fact(org_key="obo")]
    assert score(*same_org) == pytest.approx(4)
    suggestion = suggest_level("vivalla", two_orgs, CONFIG, NOW)
    assert suggestion.score == pytest.approx(6)
    assert suggestion.level is Level.GUL
    assert "2 organisationer har rapporterat problem i området" in suggestion.reasons_sv


def test_a_calm_report_from_another_organisation_gives_no_bonus():
    assert score(fact(), fact(org_key="obo", category_keys=("lugnt",))) == pytest.approx(2)


def test_bonus_counts_only_reports_in_the_window():
    old = fact(org_key="obo", occurred_at=NOW - 5 * DAY)
    assert score(fact(), old) == pytest.approx(2)


@pytest.mark.parametrize(
    ("strength", "level", "reason"),
    [
        (0.6, Level.GUL, "Checklistan visar starka varningssignaler (60 %)"),
        (0.3, Level.GRON, "Checklistan visar vissa varningssignaler (30 %)"),
        (0.1, Level.GRON, "Checklistan visar få varningssignaler (10 %)"),
        (0.0, Level.GRON, "Checklistan visar få varningssignaler (0 %)"),
    ],
)
def test_checklist_contribution(strength, level, reason):
    suggestion = suggest_level("vivalla", [], CONFIG, NOW, checklist_strength=strength)
    assert suggestion.score == pytest.approx(10 * strength)
    assert suggestion.level is level
    assert reason in suggestion.reasons_sv


def test_checklist_adds_to_reports():
    assert score(fact(), checklist_strength=0.5) == pytest.approx(7)


def test_no_checklist_no_checklist_reason():
    reasons = suggest_level("vivalla", [fact()], CONFIG, NOW).reasons_sv
    assert not any("Checklistan" in r for r in reasons)


@pytest.mark.parametrize("strength", [-0.1, 1.01])
def test_checklist_strength_out_of_range(strength):
    with pytest.raises(ValueError):
        suggest_level("vivalla", [], CONFIG, NOW, checklist_strength=strength)


def test_reason_lists_categories_by_contribution():
    facts = [fact(category_keys=("samling",)) for _ in range(3)]
    facts.append(fact(category_keys=("stenkastning",)))
    reasons = suggest_level("vivalla", facts, CONFIG, NOW).reasons_sv
    assert reasons[0] == "4 rapporter senaste 3 dygnen (stenkastning, samling av ungdomar)"


def test_reason_shortens_long_category_lists():
    keys = ("stenkastning", "bilbrand", "mindre_brand", "skadegorelse", "samling")
    facts = [fact(category_keys=(key,)) for key in keys]
    reasons = suggest_level("vivalla", facts, CONFIG, NOW).reasons_sv
    assert reasons[0].endswith(", skadegörelse m.fl.)")
    assert "samling" not in reasons[0]


def test_urgent_categories_are_named():
    reasons = suggest_level("vivalla", [fact(category_keys=("hot_vald",))], CONFIG, NOW).reasons_sv
    assert "Akuta kategorier: hot/våld mot personal" in reasons


def test_rules_can_be_overridden():
    rules = SuggestionRules(window_days=1, yellow_at=1.0, red_at=2.0, multi_org_bonus=1.0)
    suggestion = suggest_level("vivalla", [fact(), fact(org_key="obo")], CONFIG, NOW, rules=rules)
    assert suggestion.score == pytest.approx(4)
    assert suggestion.level is Level.ROD
    assert suggestion.reasons_sv[0] == "2 rapporter senaste dygnet (skadegörelse)"
    assert not any("organisationer" in r for r in suggestion.reasons_sv)


@pytest.mark.parametrize(
    "bad",
    [
        {"window_days": 0},
        {"half_life_days": 0},
        {"yellow_at": 0},
        {"yellow_at": 15, "red_at": 15},
        {"multi_org_bonus": 0.5},
        {"checklist_weight": -1},
    ],
)
def test_invalid_rules(bad):
    with pytest.raises(ValueError):
        SuggestionRules(**bad)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        fact(occurred_at=datetime(2026, 11, 20, 20, 0))


def test_suggest_levels_covers_every_area():
    facts = [fact(category_keys=("stenkastning",), people="6-10", severity=3)]
    result = suggest_levels(facts, CONFIG, NOW, {"oxhagen": 0.8})
    assert list(result) == [area.key for area in CONFIG.areas]
    assert result["vivalla"].level is Level.GUL
    assert result["oxhagen"].score == pytest.approx(8)
    assert result["centrum"].level is Level.GRON


# --- properties --------------------------------------------------------------------------

problem_keys = [c.key for c in CONFIG.categories if not c.calm and not c.positive]
facts_strategy = st.builds(
    fact,
    area_key=st.sampled_from(["vivalla", "oxhagen"]),
    org_key=st.sampled_from(["nattvandrarna", "obo", "polisen"]),
    category_keys=st.lists(
        st.sampled_from([c.key for c in CONFIG.categories]), min_size=1, max_size=3
    ).map(tuple),
    people=st.sampled_from(list(PEOPLE_CHOICES)),
    severity=st.one_of(st.none(), st.integers(1, 4)),
    occurred_at=st.integers(-60, 5 * 24 * 60).map(lambda m: NOW - timedelta(minutes=m)),
    withdrawn=st.booleans(),
)


@given(st.lists(facts_strategy, max_size=12), facts_strategy)
def test_adding_a_report_never_lowers_the_score(facts, extra):
    assert score(*facts, extra) >= score(*facts) - 1e-9


@given(st.lists(facts_strategy, max_size=12), st.floats(0, 1))
def test_level_follows_thresholds_and_is_never_orange(facts, strength):
    suggestion = suggest_level("vivalla", facts, CONFIG, NOW, checklist_strength=strength)
    expected = (
        Level.ROD if suggestion.score >= 15 else Level.GUL if suggestion.score >= 6 else Level.GRON
    )
    assert suggestion.level is expected
    assert suggestion.reasons_sv[-1].startswith("Poäng ")


@given(st.lists(facts_strategy, max_size=12))
def test_score_ignores_order(facts):
    assert score(*facts) == pytest.approx(score(*reversed(facts)))


@given(st.floats(0, 30), st.floats(0, 30), st.floats(0.1, 10))
def test_recency_factor_never_increases_with_age(a, b, half_life):
    younger, older = sorted((a, b))
    assert recency_factor(older * DAY, half_life) <= recency_factor(younger * DAY, half_life)
    assert 0 < recency_factor(older * DAY, half_life) <= 1


@given(st.floats(0, 1))
def test_recency_factor_is_full_during_the_first_day(days):
    assert recency_factor(days * DAY, 2.0) == 1.0


@given(st.floats(0.1, 10), st.floats(1, 20))
def test_recency_factor_halves_every_half_life(half_life, days):
    ratio = recency_factor((days + half_life) * DAY, half_life) / recency_factor(
        days * DAY, half_life
    )
    assert ratio == pytest.approx(0.5)


# --- urgent reports ----------------------------------------------------------------------


def test_urgent_reports_newest_first_without_withdrawn():
    threat = fact(category_keys=("hot_vald",), occurred_at=NOW - 3 * HOUR)
    hindrance = fact(category_keys=("skadegorelse", "hinder_insats"), occurred_at=NOW - HOUR)
    withdrawn = fact(category_keys=("hot_vald",), withdrawn=True)
    plain = fact()
    assert urgent_reports([threat, plain, withdrawn, hindrance], CONFIG) == [hindrance, threat]


# --- places, hotspots and trends ---------------------------------------------------------


def test_normalize_place_name():
    assert normalize_place_name("  Parkeringen vid ICA! ") == "parkeringen vid ica"
    assert normalize_place_name("Gång-_och cykelväg") == "gång och cykelväg"


def test_place_label_key():
    assert place_label_key(fact()) == "viv_centrum"
    free = fact(place_key=None, place_name="Parkeringen  vid ICA")
    assert place_label_key(free) == FREE_PLACE_PREFIX + "parkeringen vid ica"
    assert place_label_key(fact(place_key=None, place_name=" !? ")) is None
    assert place_label_key(fact(place_key=None)) is None


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (3, [0, 0, 0, 0], "ökar"),
        (2, [0, 0, 0, 0], "ökar"),
        (1, [0, 0, 0, 0], "oförändrat"),
        (0, [1, 1, 1, 1], "oförändrat"),
        (0, [2, 2, 2, 2], "minskar"),
        (10, [8, 8, 8, 8], "oförändrat"),
        (11, [8, 8, 8, 8], "ökar"),
        (5, [8, 8, 8, 8], "minskar"),
        (6, [8, 8, 8, 8], "oförändrat"),
        (3, [0, 0, 0, 8], "oförändrat"),
    ],
)
def test_trend(current, previous, expected):
    assert trend(current, previous) == expected


def test_trend_needs_history():
    with pytest.raises(ValueError):
        trend(3, [])


@given(st.integers(0, 100), st.integers(1, 8))
def test_trend_of_a_steady_count_is_unchanged(count, weeks):
    assert trend(count, [count] * weeks) == "oförändrat"


@given(st.integers(0, 100), st.lists(st.integers(0, 100), min_size=1, max_size=6))
def test_trend_is_monotonic_in_the_current_count(count, previous):
    order = ["minskar", "oförändrat", "ökar"]
    assert order.index(trend(count, previous)) <= order.index(trend(count + 1, previous))


WEEK = timedelta(days=7)
START = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday


def test_hotspots_in_a_week():
    at = START + DAY
    facts = [
        fact(occurred_at=at),
        fact(occurred_at=at + HOUR, severity=3),
        fact(occurred_at=at + 2 * HOUR),
        fact(place_key="viv_skola", occurred_at=at),
        fact(
            place_key=None,
            place_name="Parkeringen vid ICA",
            occurred_at=at,
            category_keys=("bilbrand",),
        ),
        fact(
            place_key=None,
            place_name="parkeringen vid ica!",
            occurred_at=at + DAY,
            category_keys=("mindre_brand",),
        ),
        fact(place_key=None, place_name=None, occurred_at=at, category_keys=("bilbrand",)),
    ]
    found = hotspots(facts, CONFIG, START, START + WEEK)
    assert found == [
        Hotspot("vivalla", "namn:parkeringen vid ica", "Parkeringen vid ICA", 7.0, 2, "ökar"),
        Hotspot("vivalla", "viv_centrum", "Vivalla centrum (torget)", 7.0, 3, "ökar"),
    ]


def test_hotspot_period_is_half_open_and_skips_calm_and_withdrawn():
    facts = [
        fact(occurred_at=START, category_keys=("stenkastning",), severity=3),
        fact(occurred_at=START + WEEK, category_keys=("stenkastning",), severity=4),
        fact(occurred_at=START + DAY, category_keys=("hot_vald",), withdrawn=True),
        fact(occurred_at=START + DAY, category_keys=("lugnt",)),
    ]
    [spot] = hotspots(facts, CONFIG, START, START + WEEK)
    assert (spot.weighted, spot.count) == (6.0, 1)


def test_hotspot_threshold():
    facts = [fact(occurred_at=START + DAY), fact(occurred_at=START + 2 * DAY)]
    assert hotspots(facts, CONFIG, START, START + WEEK) == []
    assert [h.weighted for h in hotspots(facts, CONFIG, START, START + WEEK, threshold=4)] == [4.0]


def test_hotspot_trend_against_the_four_weeks_before():
    facts = [fact(occurred_at=START + DAY, category_keys=("bilbrand",))]
    # 3, 0, 0, 1 reports one to four weeks back: average 1, so one report is no change.
    facts += [fact(occurred_at=START - WEEK + h * HOUR) for h in range(3)]
    facts.append(fact(occurred_at=START - 4 * WEEK + HOUR))
    # A fifth week back is outside the comparison.
    facts += [fact(occurred_at=START - 5 * WEEK + h * HOUR) for h in range(20)]
    [spot] = hotspots(facts, CONFIG, START, START + WEEK, threshold=4)
    assert (spot.count, spot.trend) == (1, "oförändrat")


def test_hotspot_trend_uses_periods_of_the_same_length():
    day_start = START + 3 * DAY
    facts = [fact(occurred_at=day_start + h * HOUR, category_keys=("bilbrand",)) for h in range(2)]
    # Busy six days back: inside the week before, but not in the four days before.
    facts += [fact(occurred_at=day_start - 6 * DAY + h * HOUR) for h in range(6)]
    [spot] = hotspots(facts, CONFIG, day_start, day_start + DAY)
    assert (spot.count, spot.trend) == (2, "ökar")


def test_hotspots_reject_an_empty_period():
    with pytest.raises(ValueError):
        hotspots([], CONFIG, START, START)


def _hot_week(week_start: datetime, place_key: str) -> list[ReportFact]:
    return [
        fact(place_key=place_key, occurred_at=week_start + DAY, category_keys=("bilbrand",)),
        fact(place_key=place_key, occurred_at=week_start + 2 * DAY),
    ]


def test_recurring_deviations_three_of_four_weeks():
    weeks = [START - k * WEEK for k in (3, 2, 1, 0)]
    facts = []
    for index, week in enumerate(weeks):
        if index != 2:
            facts += _hot_week(week, "viv_centrum")
        if index in (0, 3):
            facts += _hot_week(week, "viv_skola")
    facts.append(fact(place_key="viv_fritid", occurred_at=weeks[1] + DAY))
    assert recurring_deviations(facts, CONFIG, weeks) == [
        RecurringDeviation("vivalla", "viv_centrum", "Vivalla centrum (torget)", 3)
    ]
    found = recurring_deviations(facts, CONFIG, weeks, min_weeks=2)
    assert [(r.place_label_key, r.weeks) for r in found] == [("viv_centrum", 3), ("viv_skola", 2)]


def test_recurring_deviations_respect_the_threshold():
    weeks = [START - k * WEEK for k in (3, 2, 1, 0)]
    facts = [f for week in weeks for f in _hot_week(week, "viv_centrum")]
    assert len(recurring_deviations(facts, CONFIG, weeks)) == 1
    # Each hot week weighs exactly 6: reaching the threshold is enough.
    assert len(recurring_deviations(facts, CONFIG, weeks, threshold=6.0)) == 1
    assert recurring_deviations(facts, CONFIG, weeks, threshold=6.5) == []
