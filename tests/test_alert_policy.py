"""est.alert_policy: when coordinators are alerted and where to, without Telegram."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from est import alert_policy as policy
from est.analysis import ReportFact
from est.config import default_config_path, load_config
from est.levels import Level
from est.recipients import Person
from est.report_draft import EGEN, FORMEDLAD

CONFIG = load_config(default_config_path())
COOLDOWN_HOURS = 12.0
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)


def action(suggested: Level, current: Level, *, has_open: bool = False,
           last_decided_at: datetime | None = None, cooldown_hours: float = COOLDOWN_HOURS):
    return policy.suggestion_action(suggested, current, has_open=has_open,
                                    last_decided_at=last_decided_at, now=NOW,
                                    cooldown_hours=cooldown_hours)


def fact(*category_keys: str, **changes) -> ReportFact:
    base = ReportFact(report_id=7, area_key="vivalla", place_key="viv_centrum",
                      place_name=None, org_key="nattvandrarna", category_keys=category_keys,
                      people="3-5", severity=2, occurred_at=NOW - timedelta(hours=1))
    return replace(base, **changes)


# ---------------------------------------------------------------- above the current level

@pytest.mark.parametrize(("suggested", "current", "expected"), [
    (Level.GUL, Level.GRON, True),  # above
    (Level.ROD, Level.GUL, True),
    (Level.ROD, Level.ORANGE, True),
    (Level.GUL, Level.GUL, False),  # equal
    (Level.GRON, Level.GRON, False),
    (Level.GUL, Level.ROD, False),  # below
    (Level.GUL, Level.ORANGE, False),  # orange ranks above gult: the organisation is up
    (Level.GRON, Level.GUL, False),
])
def test_only_a_suggestion_above_the_current_level_is_alerted(suggested, current, expected):
    assert policy.above_current(suggested, current) is expected
    assert action(suggested, current) == (policy.NEW_ALERT if expected else policy.NO_ALERT)


def test_an_open_suggestion_is_updated_not_alerted_anew():
    assert action(Level.ROD, Level.GRON, has_open=True) == policy.UPDATE_OPEN
    # The cooldown is about decided suggestions; an open one is always kept current.
    assert action(Level.ROD, Level.GRON, has_open=True,
                  last_decided_at=NOW - timedelta(minutes=5)) == policy.UPDATE_OPEN
    # Equal or below the level: nothing, not even an update.
    assert action(Level.GUL, Level.GUL, has_open=True) == policy.NO_ALERT
    assert action(Level.GUL, Level.ROD, has_open=True) == policy.NO_ALERT


# ---------------------------------------------------------------- the cooldown

def test_cooldown_boundary():
    cooldown = timedelta(hours=COOLDOWN_HOURS)
    tick = timedelta(microseconds=1)
    assert policy.in_cooldown(NOW - timedelta(minutes=1), NOW, COOLDOWN_HOURS)
    assert policy.in_cooldown(NOW - cooldown, NOW, COOLDOWN_HOURS)  # the boundary: inside
    assert not policy.in_cooldown(NOW - cooldown - tick, NOW, COOLDOWN_HOURS)
    assert not policy.in_cooldown(None, NOW, COOLDOWN_HOURS)  # never decided
    assert action(Level.GUL, Level.GRON, last_decided_at=NOW - cooldown) == policy.NO_ALERT
    assert action(Level.GUL, Level.GRON,
                  last_decided_at=NOW - cooldown - tick) == policy.NEW_ALERT


def test_cooldown_hours_are_fractional_and_zero_turns_it_off():
    assert policy.in_cooldown(NOW - timedelta(minutes=29), NOW, 0.5)
    assert not policy.in_cooldown(NOW - timedelta(minutes=31), NOW, 0.5)
    assert not policy.in_cooldown(NOW - timedelta(seconds=1), NOW, 0)
    assert action(Level.GUL, Level.GRON, last_decided_at=NOW - timedelta(seconds=1),
                  cooldown_hours=0) == policy.NEW_ALERT


# ---------------------------------------------------------------- urgent reports

@pytest.mark.parametrize("current", list(Level))
def test_urgent_regardless_of_level(current):
    """The urgent rule does not even look at the level: the same answer for every level."""
    threat = fact("hot_vald")
    assert policy.urgent_labels(threat, CONFIG) == ["Hot/våld mot personal"]
    assert policy.urgent_due(threat, CONFIG, alerted_report_ids=set())
    # While the suggestion rule, for the same area, stays silent at or below the level.
    assert action(Level.GRON, current) == policy.NO_ALERT


def test_urgent_labels_are_the_urgent_categories_only():
    both = fact("skadegorelse", "hinder_insats", "hot_vald")
    assert policy.urgent_labels(both, CONFIG) == [
        "Hinder mot räddningsinsats", "Hot/våld mot personal"]
    assert policy.urgent_labels(fact("skadegorelse"), CONFIG) == []
    assert policy.urgent_labels(fact("okand_kategori"), CONFIG) == []
    assert policy.urgent_labels(fact("hot_vald", withdrawn=True), CONFIG) == []


def test_an_urgent_report_alerts_once():
    threat = fact("hot_vald", report_id=41)
    assert policy.urgent_due(threat, CONFIG, {12, 40})
    assert not policy.urgent_due(threat, CONFIG, {41})  # an edit of a report that alerted
    assert not policy.urgent_due(fact("skadegorelse"), CONFIG, set())


def person(member_id: int, org_key: str, role: str = "coordinator", **changes) -> Person:
    return Person(member_id=member_id, chat_id=1000 + member_id, role=role, org_key=org_key,
                  **changes)


def test_a_formedlad_urgent_report_goes_to_the_coordinator_groups():
    route = policy.urgent_route(FORMEDLAD, "nattvandrarna", [person(1, "nattvandrarna")])
    assert route == policy.UrgentRoute(to_groups=True)


def test_an_egen_urgent_report_stays_with_its_own_coordinators():
    people = [
        person(5, "nattvandrarna", role="admin"),
        person(2, "nattvandrarna"),
        person(3, "polisen"),  # another organisation
        person(4, "nattvandrarna", role="reporter"),  # not a coordinator
        person(6, "nattvandrarna", active=False),  # blocked the bot
        person(7, "nattvandrarna", paused=True),  # on holiday, but urgent: still told
    ]
    route = policy.urgent_route(EGEN, "nattvandrarna", people)
    assert route == policy.UrgentRoute(to_groups=False, private_chat_ids=(1002, 1005, 1007))
    assert policy.urgent_route(EGEN, "obo", people).private_chat_ids == ()
