"""The report dialog's rules, without Telegram."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from est import report_draft as flow
from est.report_draft import InvalidChoice, ReportDraft, choose

NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def pick(draft, step, action, arg=None, config=None, kind="nattvandrare"):
    return choose(draft, step, action, arg, config=config, org_kind=kind, now=NOW)


def test_main_path_visits_every_step_in_order(config):
    draft, step, seen = ReportDraft(), flow.AREA, []
    answers = {flow.AREA: ("a", "vivalla"), flow.PLACE: ("p", "viv_skola"),
               flow.WHAT: ("cd", None), flow.PEOPLE: ("n", "3-5"), flow.WHEN: ("w", "30"),
               flow.SEVERITY: ("s", "2"), flow.TEXT: ("ts", None), flow.SHARING: ("d", "egen")}
    pick(draft, flow.WHAT, "c", "samling.1", config)
    while step != flow.SUMMARY:
        seen.append(step)
        step = pick(draft, step, *answers[step], config=config)
    assert seen == list(flow.MAIN_STEPS[:-1])
    assert flow.missing_fields(draft) == []
    assert draft.occurred() == datetime(2026, 11, 20, 19, 30, tzinfo=UTC)


def test_reviewing_returns_to_summary_and_area_change_asks_for_place(config):
    draft = ReportDraft(area="vivalla", place_key="viv_skola", reviewing=True)
    assert pick(draft, flow.AREA, "a", "vivalla", config) == flow.SUMMARY
    assert pick(draft, flow.AREA, "a", "oxhagen", config) == flow.PLACE
    assert draft.place_key is None
    assert pick(draft, flow.PLACE, "p", "oxh_skola", config) == flow.SUMMARY


@pytest.mark.parametrize("step,action,arg", [
    (flow.AREA, "a", "atlantis"),
    (flow.PLACE, "p", "cen_stortorget"),  # a place of another area
    (flow.WHAT, "c", "hot_vald.2"),
    (flow.WHAT, "c", "lugnt.1"),  # calm has its own command
    (flow.WHAT, "cd", None),  # nothing chosen yet
    (flow.PEOPLE, "n", "1000"),
    (flow.WHEN, "w", "45"),
    (flow.SEVERITY, "s", "5"),
    (flow.SHARING, "d", "alla"),
    (flow.SUMMARY, "g", "summary"),
    (flow.AREA, "s", "1"),  # a button of another step
])
def test_untrusted_choices_are_refused(config, step, action, arg):
    draft = ReportDraft(area="vivalla")
    before = draft.to_json()
    with pytest.raises(InvalidChoice):
        pick(draft, step, action, arg, config)
    assert draft.to_json() == before


def test_categories_follow_the_organisation_kind(config):
    kinds = {c.key for c in flow.reportable_categories(config, "nattvandrare")}
    assert "samling" in kinds and "lugnt" not in kinds
    assert kinds <= {c.key for c in config.categories}


def test_selecting_twice_is_idempotent(config):
    draft = ReportDraft()
    for _ in range(2):
        pick(draft, flow.WHAT, "c", "samling.1", config)
    assert draft.categories == ["samling"]
    pick(draft, flow.WHAT, "c", "samling.0", config)
    assert draft.categories == []


@pytest.mark.parametrize("text,expected", [
    ("21:40", "2026-11-20 21:40"),
    ("kl 7.05", "2026-11-20 07:05"),
    ("23:59", "2026-11-19 23:59"),  # later than now: yesterday evening
])
def test_clock_times_are_the_latest_past_moment(text, expected):
    now_local = datetime(2026, 11, 20, 22, 0, tzinfo=STOCKHOLM)
    moment = flow.parse_clock_time(text, now_local)
    assert moment.strftime("%Y-%m-%d %H:%M") == expected


@pytest.mark.parametrize("text", ["25:00", "12:61", "kvart i tio", "", "12401"])
def test_bad_clock_times_explain_themselves(text):
    result = flow.parse_clock_time(text, datetime(2026, 11, 20, 22, 0, tzinfo=STOCKHOLM))
    # Examples of what works, not a format (issue 9: "1240" is now 12:40).
    assert isinstance(result, str) and "igår 23:15" in result


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=2000, max_value=2100))
def test_references_are_unique_and_sortable(report_id, year):
    reference = flow.format_reference(year, report_id)
    assert reference.startswith(f"R-{year}-") and int(reference.rsplit("-", 1)[1]) == report_id


def test_draft_round_trips_through_json():
    draft = ReportDraft(area="x", categories=["a", "b"], severity=3, text="hej")
    assert ReportDraft.from_json(draft.to_json() | {"unknown": 1}) == draft
