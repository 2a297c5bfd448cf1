"""Domain rules of events, insatser, uppföljning and återkoppling (est.planning)."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from est import planning as plan
from est.config import default_config_path, load_config
from est.planning import DateProblem, FeedbackCandidate, PlanDraft

TZ = ZoneInfo("Europe/Stockholm")
FRIDAY_EVENING = datetime(2026, 11, 20, 21, 0, tzinfo=TZ)
WEDNESDAY_NOON = datetime(2026, 11, 18, 12, 0, tzinfo=TZ)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)


# ---------------------------------------------------------------- moments


@pytest.mark.parametrize(("text", "expected"), [
    ("fre 19:00", local(2026, 11, 27, 19, 0)),  # today's 19:00 has passed: next Friday
    ("fredag 19", local(2026, 11, 27, 19, 0)),
    ("fre 22", local(2026, 11, 20, 22, 0)),  # still ahead today
    ("lör 22.30", local(2026, 11, 21, 22, 30)),
    ("Söndag kl. 18", local(2026, 11, 22, 18, 0)),
    ("son 18", local(2026, 11, 22, 18, 0)),
    ("i morgon 18", local(2026, 11, 21, 18, 0)),
    ("imorgon kl 18:15", local(2026, 11, 21, 18, 15)),
    ("i dag 23", local(2026, 11, 20, 23, 0)),
    ("ikväll 22:30", local(2026, 11, 20, 22, 30)),
    ("kl 23", local(2026, 11, 20, 23, 0)),
    ("19:00", local(2026, 11, 21, 19, 0)),  # a time alone that has passed: tomorrow
    ("31/12 22", local(2026, 12, 31, 22, 0)),
    ("31/12/2026 22:00", local(2026, 12, 31, 22, 0)),
    ("31.12 22:00", local(2026, 12, 31, 22, 0)),
    ("31 dec 22", local(2026, 12, 31, 22, 0)),
    ("30 april 2027 20:00", local(2027, 4, 30, 20, 0)),
    ("2026-12-31 22:00", local(2026, 12, 31, 22, 0)),
    ("fre 27/11 19", local(2026, 11, 27, 19, 0)),
    ("1/1 00:30", local(2027, 1, 1, 0, 30)),
    ("15/11 12", local(2027, 11, 15, 12, 0)),  # a date that has passed: next year
])
def test_parse_moment(text, expected):
    assert plan.parse_moment(text, FRIDAY_EVENING) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("", "Skriv datum"),
    ("xyz 19", "förstår inte"),
    ("fredag", "klockslag"),
    ("31/12", "klockslag"),
    ("31.12", "klockslag"),
    ("24:00", "finns inte"),
    ("19:75", "finns inte"),
    ("31/4 20", "finns inte"),
    ("30/2 12", "finns inte"),
    ("2025-01-01 10:00", "redan varit"),
    ("i dag 20", "redan varit"),
    ("2028-06-01 12:00", "mer än ett år"),
])
def test_parse_moment_explains_problems(text, problem):
    with pytest.raises(DateProblem, match=problem):
        plan.parse_moment(text, FRIDAY_EVENING)


def test_a_time_alone_belongs_to_the_chosen_day():
    day = date(2026, 11, 27)
    assert plan.parse_moment("19:30", FRIDAY_EVENING, default_day=day) == local(2026, 11, 27,
                                                                                19, 30)
    with pytest.raises(DateProblem, match="redan varit"):
        plan.parse_moment("20:00", FRIDAY_EVENING, default_day=FRIDAY_EVENING.date())


def test_a_moment_across_daylight_saving_keeps_the_wall_clock():
    before_change = local(2027, 3, 26, 12, 0)  # Friday; summer time starts on Sunday 28 March
    moment = plan.parse_moment("mån 19", before_change)
    assert moment == local(2027, 3, 29, 19, 0)
    assert moment.astimezone(UTC).hour == 17


# ---------------------------------------------------------------- periods


@pytest.mark.parametrize(("text", "start", "end"), [
    ("fre 18 – sön 23", local(2026, 11, 20, 18), local(2026, 11, 22, 23)),  # under way
    ("i dag 18-23", local(2026, 11, 20, 18), local(2026, 11, 20, 23)),
    ("ikväll 18–23", local(2026, 11, 20, 18), local(2026, 11, 20, 23)),
    ("22-02", local(2026, 11, 20, 22), local(2026, 11, 21, 2)),  # past midnight
    ("sön 20 till mån 02", local(2026, 11, 22, 20), local(2026, 11, 23, 2)),
    ("tor 18-20", local(2026, 11, 26, 18), local(2026, 11, 26, 20)),
    ("fre 18-20", local(2026, 11, 27, 18), local(2026, 11, 27, 20)),  # tonight's is over
    ("31/12 20 – 1/1 03", local(2026, 12, 31, 20), local(2027, 1, 1, 3)),
    ("2026-12-31 18:00 - 2027-01-01 02:00", local(2026, 12, 31, 18), local(2027, 1, 1, 2)),
    ("2026-12-31 18-23", local(2026, 12, 31, 18), local(2026, 12, 31, 23)),
    ("i morgon 18 – i övermorgon 01", local(2026, 11, 21, 18), local(2026, 11, 22, 1)),
])
def test_parse_period(text, start, end):
    assert plan.parse_period(text, FRIDAY_EVENING) == (start, end)


@pytest.mark.parametrize(("text", "problem"), [
    ("18", "start – slut"),
    ("fre 18", "start – slut"),
    ("fredag – söndag", "klockslag för starten"),
    ("fre 18 – söndag", "klockslag för slutet"),
    ("fre 18 - fre 17", "efter starten"),
    ("i dag 10-12", "redan tagit slut"),
    ("1/1 10 – 1/4 10", "högst två månader"),
    ("i går 18 – 20", "förstår inte"),
])
def test_parse_period_explains_problems(text, problem):
    with pytest.raises(DateProblem, match=problem):
        plan.parse_period(text, FRIDAY_EVENING)


def test_period_presets_follow_the_clock():
    assert plan.preset_period(plan.TONIGHT, FRIDAY_EVENING) == (local(2026, 11, 20, 18),
                                                                local(2026, 11, 20, 23))
    assert plan.preset_period(plan.WEEKEND, FRIDAY_EVENING) == (local(2026, 11, 20, 18),
                                                                local(2026, 11, 22, 23))
    assert plan.preset_period(plan.WEEK, FRIDAY_EVENING) == (local(2026, 11, 20, 21),
                                                             local(2026, 11, 27, 23))
    # Midweek the weekend is the coming one; late on Sunday it is the next one.
    assert plan.preset_period(plan.WEEKEND, WEDNESDAY_NOON)[0] == local(2026, 11, 20, 18)
    sunday_late = local(2026, 11, 22, 23, 30)
    assert plan.preset_period(plan.WEEKEND, sunday_late) == (local(2026, 11, 27, 18),
                                                             local(2026, 11, 29, 23))
    saturday = local(2026, 11, 21, 12)
    assert plan.preset_period(plan.WEEKEND, saturday)[0] == local(2026, 11, 20, 18)
    # After 23.00 "Ikväll" is gone from the buttons.
    assert plan.preset_period(plan.TONIGHT, sunday_late) is None
    assert [k for k, _ in plan.period_presets(sunday_late)] == [plan.WEEKEND, plan.WEEK]
    assert plan.preset_period("zz", FRIDAY_EVENING) is None


def test_event_day_and_hour_choices():
    assert plan.event_day_choices(WEDNESDAY_NOON.date()) == [
        (date(2026, 11, 18), "I dag"), (date(2026, 11, 19), "I morgon"),
        (date(2026, 11, 20), "Fre 20/11"), (date(2026, 11, 21), "Lör 21/11")]
    # On a Friday, today and tomorrow are the weekend already.
    assert [d for d, _ in plan.event_day_choices(FRIDAY_EVENING.date())] == [
        date(2026, 11, 20), date(2026, 11, 21)]
    assert plan.event_hour_choices(FRIDAY_EVENING.date(), FRIDAY_EVENING) == [21, 22]
    assert plan.event_hour_choices(date(2026, 11, 21), FRIDAY_EVENING) == list(plan.EVENT_HOURS)


def test_formatting():
    assert plan.day_label(date(2026, 11, 26)) == "tors 26/11"
    assert plan.format_moment(local(2026, 11, 27, 19, 5)) == "fre 27/11 19:05"
    assert plan.format_period(local(2026, 11, 20, 18), local(2026, 11, 20, 23)) == \
        "fre 20/11 18:00–23:00"
    assert plan.format_period(local(2026, 11, 20, 18), local(2026, 11, 21, 0)) == \
        "fre 20/11 18:00–24:00"
    assert plan.format_period(local(2026, 11, 20, 18), local(2026, 11, 22, 23)) == \
        "fre 20/11 18:00 – sön 22/11 23:00"


# ---------------------------------------------------------------- risk days


def test_known_risk_days_merge_config_holidays_and_school_holidays():
    config = load_config(default_config_path())
    days = plan.known_risk_days(date(2026, 10, 20), date(2027, 1, 2),
                                risk_dates=config.risk_dates,
                                school_holidays=config.school_holidays)
    by_first = {(r.first, r.kind): r for r in days}
    # Halloween (config) and Alla helgons dag (holiday) fall on the same Saturday in 2026;
    # holidays come first, as in the lägesbild (one rule: est.risk_days).
    assert by_first[(date(2026, 10, 31), "dag")].names == ("Alla helgons dag", "Halloween")
    # Nyårsafton is both a risk date and a de-facto holiday: one name.
    assert by_first[(date(2026, 12, 31), "dag")].names == ("Nyårsafton",)
    assert by_first[(date(2026, 10, 26), "lov")].names == ("Höstlov",)
    jullov = by_first[(date(2026, 12, 21), "lov")]
    assert jullov.is_period and jullov.last == date(2027, 1, 8)
    assert [r.first for r in days] == sorted(r.first for r in days)
    assert date(2027, 1, 6) not in {r.first for r in days}  # after the window


def test_known_risk_days_across_new_year_and_an_ongoing_lov():
    risk = [SimpleNamespace(name="Valborg", day="04-30"), SimpleNamespace(name="Skottdag",
                                                                          day="02-29")]
    lov = [SimpleNamespace(name="jullov", start=date(2026, 12, 21), end=date(2027, 1, 8))]
    days = plan.known_risk_days(date(2027, 1, 5), date(2028, 5, 1), risk_dates=risk,
                                school_holidays=lov, public_holidays=lambda year: {})
    assert [(r.first, r.names) for r in days] == [
        (date(2026, 12, 21), ("jullov",)),  # under way when the window opens
        (date(2027, 4, 30), ("Valborg",)),
        (date(2028, 2, 29), ("Skottdag",)),  # only in the leap year
        (date(2028, 4, 30), ("Valborg",)),
    ]


# ---------------------------------------------------------------- status and uppföljning


NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def test_every_status_transition():
    allowed = {(plan.PLANNED, plan.RUNNING), (plan.PLANNED, plan.CANCELLED),
               (plan.RUNNING, plan.DONE), (plan.RUNNING, plan.CANCELLED)}
    for current in plan.STATUSES:
        for target in plan.STATUSES:
            problem = plan.check_status_change(current, target)
            assert (problem is None) == ((current, target) in allowed), (current, target)
    assert "redan avslutad" in plan.check_status_change(plan.DONE, plan.RUNNING)
    assert "redan inställd" in plan.check_status_change(plan.CANCELLED, plan.PLANNED)
    assert "planerad till avslutad" in plan.check_status_change(plan.PLANNED, plan.DONE)
    assert plan.check_status_change(plan.PLANNED, "draft") == "Okänd status."


def test_effective_status():
    hour = timedelta(hours=1)
    assert plan.effective_status(plan.PLANNED, NOW + hour, NOW + 2 * hour, NOW) == plan.PLANNED
    assert plan.effective_status(plan.PLANNED, NOW - hour, NOW + hour, NOW) == plan.RUNNING
    assert plan.effective_status(plan.PLANNED, NOW - 2 * hour, NOW, NOW) == plan.DONE
    assert plan.effective_status(plan.RUNNING, NOW - 2 * hour, NOW - hour, NOW) == plan.DONE
    assert plan.effective_status(plan.CANCELLED, NOW - 2 * hour, NOW - hour, NOW) == \
        plan.CANCELLED


def test_followup_is_due_once_after_the_end():
    ended, later = NOW - timedelta(minutes=1), NOW + timedelta(hours=1)
    assert plan.followup_due(plan.PLANNED, ended, None, NOW)
    assert plan.followup_due(plan.RUNNING, ended, None, NOW)
    assert plan.followup_due(plan.DONE, later, None, NOW)  # marked done early
    assert not plan.followup_due(plan.RUNNING, later, None, NOW)
    assert not plan.followup_due(plan.RUNNING, ended, NOW, NOW)  # asked already
    assert not plan.followup_due(plan.CANCELLED, ended, None, NOW)


# ---------------------------------------------------------------- återkoppling


def candidate(member_id: int, days_ago: float, **flags) -> FeedbackCandidate:
    values = {"withdrawn": False, "active": True, "paused": False, "opted_out": False, **flags}
    return FeedbackCandidate(member_id=member_id, occurred_at=NOW - timedelta(days=days_ago),
                             **values)


def test_feedback_recipients():
    candidates = [
        candidate(1, 1), candidate(1, 2),  # two reports, one thank-you
        candidate(2, 13.9),
        candidate(3, 14.1),  # too old
        candidate(4, 1, withdrawn=True),
        candidate(5, 1, active=False),
        candidate(6, 1, paused=True),
        candidate(7, 1, opted_out=True),
        candidate(8, 1),  # the coordinator who registered the insats
        candidate(9, -1),  # "in the future": a clock mistake, not a report about this
        candidate(10, 3, withdrawn=True), candidate(10, 4),  # another report still counts
    ]
    assert plan.feedback_recipients(candidates, now=NOW, exclude_member_id=8) == [2, 10, 1]
    assert plan.feedback_recipients([], now=NOW) == []


# ---------------------------------------------------------------- the dialog draft


def test_draft_steps_and_back():
    event = PlanDraft(kind=plan.EVENT)
    assert plan.first_missing_step(event) == plan.EV_AREA
    event.set_area(None)  # Hela kommunen
    assert event.has_area and plan.first_missing_step(event) == plan.EV_WHAT
    event.what = "Match"
    assert plan.first_missing_step(event) == plan.EV_DAY
    event.starts_at = NOW.isoformat()
    assert plan.first_missing_step(event) is None
    assert plan.previous_step(event, plan.EV_CONFIRM) == plan.EV_DAY  # typed: no hour step
    event.day = "2026-11-21"
    assert plan.previous_step(event, plan.EV_CONFIRM) == plan.EV_TIME
    assert plan.previous_step(event, plan.EV_WHEN_T) == plan.EV_DAY
    assert plan.previous_step(event, plan.EV_AREA) == plan.EV_AREA

    insats = PlanDraft.from_json({"kind": plan.INSATS, "area": "vivalla",
                                  "place_key": "viv_skola", "unknown": 1})
    assert plan.first_missing_step(insats) == plan.IN_WHAT
    insats.set_area("oxhagen")  # another area: the place no longer fits
    assert insats.place_key is None and plan.first_missing_step(insats) == plan.IN_PLACE
    insats.whole_area, insats.what, insats.org = True, "Belysning", "kommunen"
    assert plan.first_missing_step(insats) == plan.IN_PERIOD
    insats.starts_at, insats.ends_at = NOW.isoformat(), (NOW + timedelta(hours=2)).isoformat()
    assert plan.first_missing_step(insats) is None
    assert PlanDraft.from_json(insats.to_json()) == insats
    assert plan.previous_step(insats, plan.IN_PERIOD_T) == plan.IN_PERIOD
    assert plan.previous_step(insats, plan.IN_WHAT) == plan.IN_PLACE
    assert plan.clean_text("  Gångtunneln \n under   bron ") == "Gångtunneln under bron"


# ---------------------------------------------------------------- presses and typed answers

CONFIG = load_config(default_config_path())


def choose(draft: PlanDraft, step: str, action: str, arg: str | None = None,
           now_local: datetime = FRIDAY_EVENING) -> str:
    return plan.choose(draft, step, action, arg, config=CONFIG, now_local=now_local)


def test_event_presses_are_checked_against_the_config_and_the_clock():
    draft = PlanDraft(kind=plan.EVENT)
    with pytest.raises(plan.InvalidChoice, match="Okänt område"):
        choose(draft, plan.EV_AREA, "a", "atlantis")
    assert choose(draft, plan.EV_AREA, "a", plan.WHOLE) == plan.EV_WHAT
    assert draft.has_area and draft.area is None
    assert choose(draft, plan.EV_AREA, "a", "vivalla") == plan.EV_WHAT
    draft.what = "Match"
    with pytest.raises(plan.InvalidChoice, match="kan inte väljas"):
        choose(draft, plan.EV_DAY, "d", "2026-11-19")  # yesterday's button
    assert choose(draft, plan.EV_DAY, "d", "2026-11-20") == plan.EV_TIME
    for hour, problem in (("19", "redan varit"), ("²", "Okänd tid"), ("24", "Okänd tid")):
        with pytest.raises(plan.InvalidChoice, match=problem):
            choose(draft, plan.EV_TIME, "t", hour)
    assert choose(draft, plan.EV_TIME, "t", "22") == plan.EV_CONFIRM
    assert draft.start() == datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
    assert choose(draft, plan.EV_DAY, "dt") == plan.EV_WHEN_T and draft.day is None
    with pytest.raises(plan.InvalidChoice, match="gäller inte längre"):
        choose(draft, plan.EV_AREA, "p", "viv_skola")  # an insats's button


def test_insats_presses_are_checked_against_the_config_and_the_clock():
    draft = PlanDraft(kind=plan.INSATS)
    with pytest.raises(plan.InvalidChoice, match="Okänt område"):
        choose(draft, plan.IN_AREA, "a", plan.WHOLE)  # an insats has an area
    assert choose(draft, plan.IN_AREA, "a", "vivalla") == plan.IN_PLACE
    with pytest.raises(plan.InvalidChoice, match="Okänd plats"):
        choose(draft, plan.IN_PLACE, "p", "oxh_skola")  # another area's place
    assert choose(draft, plan.IN_PLACE, "p", plan.WHOLE) == plan.IN_WHAT and draft.whole_area
    assert choose(draft, plan.IN_PLACE, "p", "viv_skola") == plan.IN_WHAT
    assert draft.place_key == "viv_skola" and not draft.whole_area
    assert choose(draft, plan.IN_PLACE, "pt") == plan.IN_PLACE_T
    draft.what = "Nattvandring"
    with pytest.raises(plan.InvalidChoice, match="Okänd organisation"):
        choose(draft, plan.IN_ORG, "o", "maffian")
    assert choose(draft, plan.IN_ORG, "o", "nattvandrarna") == plan.IN_PERIOD
    late = local(2026, 11, 20, 23, 30)
    with pytest.raises(plan.InvalidChoice, match="går inte att välja längre"):
        choose(draft, plan.IN_PERIOD, "w", plan.TONIGHT, now_local=late)
    assert choose(draft, plan.IN_PERIOD, "w", plan.TONIGHT) == plan.IN_CONFIRM
    assert (draft.start(), draft.end()) == (datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
                                            datetime(2026, 11, 20, 22, 0, tzinfo=UTC))
    assert draft.period_label == "Ikväll 18–23"
    assert choose(draft, plan.IN_PERIOD, "wt") == plan.IN_PERIOD_T


def test_typed_titles_and_places_are_checked_for_personal_data():
    draft = PlanDraft(kind=plan.EVENT, whole_kommun=True)
    with pytest.raises(plan.InvalidChoice, match="personnummer") as refused:
        plan.typed(draft, plan.EV_WHAT, "Demo, anmäld av 19811218-9876", now_local=FRIDAY_EVENING)
    assert refused.value.delete and draft.what is None
    with pytest.raises(plan.InvalidChoice, match="för lång"):
        plan.typed(draft, plan.EV_WHAT, "x" * (plan.EVENT_TITLE_MAX + 1),
                   now_local=FRIDAY_EVENING)
    answer = plan.typed(draft, plan.EV_WHAT, "Match,  info\n070-123 45 67",
                        now_local=FRIDAY_EVENING)
    assert answer == plan.Typed(plan.EV_DAY, answer.notice, delete=True)
    assert "telefonnummer" in answer.notice
    assert draft.what == "Match, info [telefonnummer borttaget]"

    insats = PlanDraft(kind=plan.INSATS, area="vivalla", place_key="viv_skola")
    answer = plan.typed(insats, plan.IN_PLACE, " Gångtunneln \n vid ån ",
                        now_local=FRIDAY_EVENING)
    assert answer == plan.Typed(plan.IN_WHAT)
    assert (insats.place_key, insats.place_name) == (None, "Gångtunneln vid ån")


def test_typed_moments_and_periods():
    draft = PlanDraft(kind=plan.EVENT, area="vivalla", what="Match", day="2026-11-21")
    # A time alone at the time step belongs to the chosen day.
    assert plan.typed(draft, plan.EV_TIME, "19:30", now_local=FRIDAY_EVENING).step \
        == plan.EV_CONFIRM
    assert draft.start() == datetime(2026, 11, 21, 18, 30, tzinfo=UTC)
    # At the day step a typed moment replaces the chosen day.
    plan.typed(draft, plan.EV_DAY, "31/12 22", now_local=FRIDAY_EVENING)
    assert draft.day is None and draft.start() == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)
    with pytest.raises(plan.InvalidChoice, match="redan varit") as refused:
        plan.typed(draft, plan.EV_WHEN_T, "2025-01-01 10:00", now_local=FRIDAY_EVENING)
    assert not refused.value.delete  # a date is nothing to hide

    insats = PlanDraft(kind=plan.INSATS, area="vivalla", whole_area=True, what="Belysning",
                       org="kommunen", period_label="Ikväll 18–23")
    assert plan.typed(insats, plan.IN_PERIOD_T, "i morgon 18-23",
                      now_local=FRIDAY_EVENING).step == plan.IN_CONFIRM
    assert (insats.start(), insats.end()) == (datetime(2026, 11, 21, 17, 0, tzinfo=UTC),
                                              datetime(2026, 11, 21, 22, 0, tzinfo=UTC))
    assert insats.period_label is None
    with pytest.raises(plan.InvalidChoice, match="redan tagit slut"):
        plan.typed(insats, plan.IN_PERIOD, "i dag 10-12", now_local=FRIDAY_EVENING)


def test_followup_comment_keeps_its_lines_and_masks_contact_details():
    comment, notice = plan.followup_comment("  Lugnare.\nKontakt rektor@skolan.se  ")
    assert comment == "Lugnare.\nKontakt [e-post borttagen]" and "e-postadress" in notice
    with pytest.raises(plan.InvalidChoice, match="för lång"):
        plan.followup_comment("x" * (plan.FOLLOWUP_COMMENT_MAX + 1))
