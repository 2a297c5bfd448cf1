"""est.recipients: who gets the briefing, the reminder and the coordinators' posts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from est.recipients import (
    Chat,
    Person,
    Recipient,
    briefing_recipients,
    coordinator_groups,
    evening_start,
    reminder_recipients,
)

TZ = ZoneInfo("Europe/Stockholm")
FRIDAY_2330 = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)  # 23.30 in Stockholm (CET)
EVENING = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 18.00 that Friday


def person(member_id: int, role: str = "reporter", **changes) -> Person:
    return Person(member_id=member_id, chat_id=6000 + member_id, role=role,
                  org_key=changes.pop("org_key", "nattvandrarna"), **changes)


def chat(group_id: int, kind: str, **changes) -> Chat:
    return Chat(group_id=group_id, chat_id=-5000 - group_id, kind=kind, **changes)


PEOPLE = [
    person(3, org_key="faltgruppen"),
    person(1),
    person(2, paused=True),
    person(4, active=False),
    person(5, "coordinator", org_key="polisen"),
    person(6, "admin"),
]
CHATS = [chat(2, "briefing"), chat(1, "coordinator"), chat(3, "briefing", active=False),
         chat(4, "coordinator", active=False), chat(5, "briefing")]


def test_briefing_goes_to_active_unpaused_field_members_and_briefing_groups():
    assert briefing_recipients(PEOPLE, CHATS) == [
        Recipient(6001, member_id=1), Recipient(6003, member_id=3),
        Recipient(-5002, group_id=2), Recipient(-5005, group_id=5),
    ]


def test_briefing_recipients_are_outbox_rows():
    [(chat_id, member_id, group_id)] = briefing_recipients([person(1)], [])
    assert (chat_id, member_id, group_id) == (6001, 1, None)


def test_coordinator_posts_go_to_active_coordinator_groups_only():
    assert coordinator_groups(CHATS) == [Recipient(-5001, group_id=1)]
    assert coordinator_groups([]) == []


def test_evening_start_is_1800_local_and_after_midnight_the_evening_before():
    assert evening_start(FRIDAY_2330, TZ) == EVENING
    assert evening_start(EVENING, TZ) == EVENING  # 18.00 itself belongs to that evening
    saturday_0030 = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert evening_start(saturday_0030, TZ) == EVENING
    before = EVENING - timedelta(seconds=1)  # 17.59.59: the evening before
    assert evening_start(before, TZ) == EVENING - timedelta(days=1)


def test_reminder_goes_to_briefed_members_who_sent_nothing_that_evening():
    briefed = [person(1), person(2), person(3), person(4, active=False), person(5, paused=True),
               person(6)]
    reports = [
        (1, EVENING + timedelta(hours=2)),  # reported this evening
        (2, EVENING - timedelta(minutes=1)),  # before 18.00: does not count
        (3, FRIDAY_2330 + timedelta(seconds=1)),  # after the reminder: does not count
        (6, EVENING),  # at 18.00 exactly: counts
        (6, FRIDAY_2330),  # at the reminder's moment: counts as well
    ]
    assert reminder_recipients(briefed, reports, FRIDAY_2330, TZ) == [
        Recipient(6002, member_id=2), Recipient(6003, member_id=3)]


def test_nobody_briefed_nobody_reminded():
    assert reminder_recipients([], [(1, EVENING)], FRIDAY_2330, TZ) == []
    assert reminder_recipients([person(1)], [], FRIDAY_2330, TZ) == [Recipient(6001, 1)]
