import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from est.checklist import (
    GROUPS,
    SCALE_INSTRUCTION,
    STATEMENTS,
    ChecklistScore,
    max_possible,
    prefill_other_aspects,
    scale_label,
    share_answered,
    signal_strength,
    statement,
    strongest_signals,
    swedish_public_holidays,
    total,
)

SEED_FILES = sorted(Path("/work/shared/seeds").glob("002_*.txt"))
SEED = re.sub(r"\s+", " ", SEED_FILES[0].read_text(encoding="utf-8")) if SEED_FILES else ""

answers = st.dictionaries(st.integers(1, 20), st.integers(1, 4))


# --- the statements -----------------------------------------------------------------------


def test_twenty_statements_numbered_in_order():
    assert [s.number for s in STATEMENTS] == list(range(1, 21))


def test_groups_and_their_ranges():
    assert [(g.title, [s.number for s in g.statements]) for g in GROUPS] == [
        ("Polis och andra aktörer", [1, 2, 3]),
        ("Kommunen/stadsdelen och omvärlden", [4, 5, 6, 7]),
        ("Tecken på oro", list(range(8, 18))),
        ("Andra aspekter", [18, 19, 20]),
    ]
    assert all(s.group_key == g.key for g in GROUPS for s in g.statements)


@pytest.mark.skipif(not SEED_FILES, reason="seed 002 not present")
@pytest.mark.parametrize("item", STATEMENTS, ids=lambda s: str(s.number))
def test_statement_is_verbatim_from_seed(item):
    assert f"{item.number} {item.text}" in SEED


def test_spot_check_wording():
    assert statement(8).text == "Har det förekommit stenkastning eller hot mot poliser?"
    assert statement(20).text == "Är väderläget gynnsamt för utomhusaktiviteter?"
    with pytest.raises(KeyError):
        statement(21)


def test_scale_wording():
    assert "1 stämmer inte alls och 4 stämmer mycket bra" in SCALE_INSTRUCTION
    assert [scale_label(v) for v in range(1, 5)] == [
        "1 – stämmer inte alls",
        "2",
        "3",
        "4 – stämmer mycket bra",
    ]
    with pytest.raises(ValueError):
        scale_label(5)


# --- scores ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad", [{0: 1}, {21: 2}, {3: -1}, {3: 5}], ids=["no0", "no21", "low", "high"]
)
def test_score_rejects_invalid_answers(bad):
    with pytest.raises(ValueError):
        ChecklistScore(bad)


def test_score_copies_the_answers():
    raw = {1: 2}
    score = ChecklistScore(raw)
    raw[2] = 4
    assert dict(score.answers) == {1: 2}
    with pytest.raises(TypeError):
        score.answers[3] = 1


def test_with_answer_returns_a_new_score():
    score = ChecklistScore({1: 2})
    updated = score.with_answer(1, 4).with_answer(9, 3)
    assert dict(score.answers) == {1: 2}
    assert dict(updated.answers) == {1: 4, 9: 3}


def test_full_checklist_numbers():
    score = ChecklistScore({n: 1 + n % 4 for n in range(1, 21)})
    assert total(score) == 5 * (1 + 2 + 3 + 4)
    assert max_possible(score) == 80
    assert share_answered(score) == 1.0


def test_half_done_checklist():
    score = ChecklistScore({8: 4, 9: 3, 12: 1, 13: 2})
    assert total(score) == 10
    assert max_possible(score) == 16
    assert share_answered(score) == pytest.approx(0.2)
    assert signal_strength(score) == pytest.approx((10 - 4) / 12)


def test_empty_checklist():
    score = ChecklistScore({})
    assert (total(score), max_possible(score), share_answered(score)) == (0, 0, 0.0)
    assert signal_strength(score) == 0.0
    assert strongest_signals(score) == []


@pytest.mark.parametrize(("value", "expected"), [(1, 0.0), (2, 1 / 3), (3, 2 / 3), (4, 1.0)])
def test_signal_strength_of_uniform_answers(value, expected):
    assert signal_strength(ChecklistScore(dict.fromkeys(range(1, 21), value))) == pytest.approx(
        expected
    )


def test_strongest_signals_highest_first_then_checklist_order():
    score = ChecklistScore({2: 3, 5: 4, 9: 4, 11: 2, 14: 3, 1: 1})
    assert [(s.number, v) for s, v in strongest_signals(score)] == [(5, 4), (9, 4), (2, 3)]
    assert [(s.number, v) for s, v in strongest_signals(score, n=10)] == [
        (5, 4),
        (9, 4),
        (2, 3),
        (14, 3),
    ]


def test_strongest_signals_ignores_weak_answers():
    assert strongest_signals(ChecklistScore({n: 2 for n in range(1, 21)})) == []


@given(answers)
def test_strength_is_between_zero_and_one(raw):
    assert 0.0 <= signal_strength(ChecklistScore(raw)) <= 1.0


@given(answers, st.integers(1, 20))
def test_raising_an_answer_raises_strength(raw, number):
    score = ChecklistScore(raw)
    current = raw.get(number, 1)
    if number in raw and current < 4:
        assert signal_strength(score.with_answer(number, current + 1)) > signal_strength(score)


@given(answers, st.integers(0, 25))
def test_strongest_signals_are_sorted_and_strong(raw, n):
    signals = strongest_signals(ChecklistScore(raw), n)
    values = [v for _, v in signals]
    assert len(signals) <= n
    assert all(v >= 3 for v in values)
    assert values == sorted(values, reverse=True)
    assert len(signals) == min(n, sum(1 for v in raw.values() if v >= 3))


# --- Swedish public holidays -----------------------------------------------------------


def test_public_holidays_2026_without_sundays():
    days = swedish_public_holidays(2026)
    assert days[date(2026, 12, 24)] == "Julafton"
    assert days[date(2026, 12, 31)] == "Nyårsafton"
    assert days[date(2026, 6, 19)] == "Midsommarafton"
    assert days[date(2026, 6, 6)] == "Nationaldagen"
    assert days[date(2026, 4, 3)] == "Långfredagen"
    assert "Söndag" not in days.values()
    # An ordinary Sunday is not a holiday; Easter Sunday is.
    assert date(2026, 11, 22) not in days
    assert days[date(2026, 4, 5)] == "Påskdagen"
    assert len(days) == 16
    assert all(d.year == 2026 for d in days)


def test_public_holidays_follow_easter():
    assert swedish_public_holidays(2027)[date(2027, 3, 26)] == "Långfredagen"


# --- prefilling "Andra aspekter" ---------------------------------------------------------

HOSTLOV = (date(2026, 10, 26), date(2026, 10, 30), "höstlov")
JULLOV = (date(2026, 12, 21), date(2027, 1, 8), "Jullov")
HOLIDAYS = swedish_public_holidays(2026) | swedish_public_holidays(2027)


def test_during_school_holiday():
    proposals = prefill_other_aspects(date(2026, 10, 28), [HOSTLOV, JULLOV], HOLIDAYS)
    assert proposals[18] == (4, "Höstlov pågår (26 oktober–30 oktober).")


def test_school_holiday_first_and_last_day_count():
    assert prefill_other_aspects(HOSTLOV[0], [HOSTLOV], {})[18][0] == 4
    assert prefill_other_aspects(HOSTLOV[1], [HOSTLOV], {})[18][0] == 4
    assert prefill_other_aspects(HOSTLOV[1] + timedelta(days=1), [HOSTLOV], {})[18][0] == 1


@pytest.mark.parametrize(
    ("days_before", "value", "when"),
    [(1, 3, "i morgon"), (7, 3, "om 7 dagar"), (8, 2, "om 8 dagar"), (14, 2, "om 14 dagar")],
)
def test_upcoming_school_holiday(days_before, value, when):
    day = JULLOV[0] - timedelta(days=days_before)
    assert prefill_other_aspects(day, [JULLOV], {})[18] == (
        value,
        f"Jullov börjar {when} (21 december).",
    )


def test_no_school_holiday_near():
    assert prefill_other_aspects(date(2026, 9, 1), [HOSTLOV, JULLOV], {})[18] == (
        1,
        "Inget skollov de närmaste två veckorna.",
    )


def test_nearest_upcoming_school_holiday_wins():
    early = (date(2026, 3, 10), date(2026, 3, 12), "Lov A")
    late = (date(2026, 3, 5), date(2026, 3, 6), "Lov B")
    assert prefill_other_aspects(date(2026, 3, 1), [early, late], {})[18][1].startswith("Lov B")


def test_public_holiday_today():
    proposals = prefill_other_aspects(date(2026, 12, 24), [], HOLIDAYS)
    assert proposals[19] == (4, "I dag är det Julafton.")


def test_public_holiday_across_new_year():
    proposals = prefill_other_aspects(date(2026, 12, 29), [], HOLIDAYS)
    assert proposals[19] == (3, "Nyårsafton om 2 dagar (31 december).")
    assert prefill_other_aspects(date(2026, 12, 31), [], HOLIDAYS)[19][0] == 4
    assert prefill_other_aspects(date(2027, 1, 2), [], HOLIDAYS)[19] == (
        3,
        "Trettondedag jul om 4 dagar (6 januari).",
    )


def test_public_holiday_fairly_soon_and_none():
    # 2026-10-31 is Alla helgons dag; ten days before it, and nothing in mid-November.
    assert prefill_other_aspects(date(2026, 10, 21), [], HOLIDAYS)[19][0] == 2
    assert prefill_other_aspects(date(2026, 11, 10), [], HOLIDAYS)[19] == (
        1,
        "Ingen helgdag de närmaste två veckorna.",
    )


def test_weather_is_never_prefilled():
    for offset in range(0, 365, 5):
        proposals = prefill_other_aspects(date(2026, 1, 1) + timedelta(days=offset), [], HOLIDAYS)
        assert set(proposals) == {18, 19}
        assert all(1 <= value <= 4 for value, _ in proposals.values())
