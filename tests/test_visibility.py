from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from est.analysis import ReportFact
from est.config import default_config_path, load_config
from est.report_draft import EGEN, FORMEDLAD
from est.visibility import filter_visible, free_text_allowed, visible_to_coordinator

CONFIG = load_config(default_config_path())
ORGS = ["polisen", "obo", "kommunen", "nattvandrarna"]


def fact(report_id: int, org_key: str) -> ReportFact:
    return ReportFact(
        report_id=report_id,
        area_key="vivalla",
        place_key="viv_centrum",
        place_name=None,
        org_key=org_key,
        category_keys=("skadegorelse",),
        people="3-5",
        severity=2,
        occurred_at=datetime(2026, 11, 20, 20, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("sharing", "report_org", "viewer_org", "visible"),
    [
        (FORMEDLAD, "polisen", "polisen", True),
        (FORMEDLAD, "nattvandrarna", "obo", True),
        (EGEN, "obo", "obo", True),
        (EGEN, "polisen", "obo", False),
        (EGEN, "nattvandrarna", "kommunen", False),
        ("okänd", "polisen", "obo", False),
        ("okänd", "obo", "obo", True),
        ("", "polisen", "obo", False),
    ],
)
def test_visible_to_coordinator(sharing, report_org, viewer_org, visible):
    assert visible_to_coordinator(sharing, report_org, viewer_org) is visible


@pytest.mark.parametrize(
    ("in_group", "setting", "allowed"),
    [(False, False, True), (False, True, True), (True, False, False), (True, True, True)],
)
def test_free_text_allowed(in_group, setting, allowed):
    config = CONFIG.model_copy(
        update={"reporting": CONFIG.reporting.model_copy(update={"free_text_in_groups": setting})}
    )
    assert free_text_allowed(in_group, config) is allowed


def test_bundled_config_keeps_free_text_out_of_groups():
    assert free_text_allowed(True, CONFIG) is False


def test_filter_visible_keeps_order_and_own_egen_reports():
    items = [
        (fact(1, "polisen"), EGEN),
        (fact(2, "obo"), EGEN),
        (fact(3, "nattvandrarna"), FORMEDLAD),
        (fact(4, "polisen"), FORMEDLAD),
        (fact(5, "kommunen"), EGEN),
    ]
    assert [f.report_id for f in filter_visible(items, "obo")] == [2, 3, 4]
    assert [f.report_id for f in filter_visible(items, "polisen")] == [1, 3, 4]
    assert [f.report_id for f in filter_visible(iter(items), "securitas")] == [3, 4]


@given(
    st.lists(st.tuples(st.sampled_from(ORGS), st.sampled_from([EGEN, FORMEDLAD]))),
    st.sampled_from(ORGS),
)
def test_no_other_organisations_egen_report_ever_leaks(reports, viewer):
    items = [(fact(i, org), sharing) for i, (org, sharing) in enumerate(reports)]
    visible = {f.report_id for f in filter_visible(items, viewer)}
    for f, sharing in items:
        expected = sharing == FORMEDLAD or f.org_key == viewer
        assert (f.report_id in visible) is expected
