"""Who gets a post: the recipient rules of the scheduled posts, in plain Python.

The bot fetches candidates from the database (members, groups, who a briefing reached,
who reported when) and these functions decide who of them gets the post. They take
plain data (``Person``, ``Chat``) and return ``Recipient`` rows for the outbox
(storage.outbox), in a stable order: members by id, then groups by id.

- Coordinator groups (the daily lägesbild, the Thursday digest, alerts): every active
  group registered as a coordinator group.
- The Friday briefing: every active, unpaused field member (role reporter), whatever
  their organisation, and every active briefing group.
- The reminder: the members the latest briefing of the week before reached in private,
  who are still active and unpaused and have sent no report since 18.00 local that
  evening (a reminder after midnight belongs to the evening before).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import NamedTuple

# Members of this role are the field: they report, and get the briefing and reminders.
FIELD_ROLE = "reporter"
COORDINATOR_ROLES = ("coordinator", "admin")
COORDINATOR_GROUP, BRIEFING_GROUP = "coordinator", "briefing"
# A reminder follows the last briefing sent at most this long before it.
BRIEFING_REACH = timedelta(days=7)
# The evening a reminder asks about starts at this local time.
EVENING_STARTS = time(18, 0)


class Recipient(NamedTuple):
    """One delivery of a post: a private chat (member_id) or a group chat (group_id)."""

    chat_id: int
    member_id: int | None = None
    group_id: int | None = None


@dataclass(frozen=True)
class Person:
    """A registered member, as the recipient rules see them."""

    member_id: int
    chat_id: int  # the Telegram user id: their private chat with the bot
    role: str
    org_key: str
    active: bool = True
    paused: bool = False

    @property
    def is_coordinator(self) -> bool:
        return self.role in COORDINATOR_ROLES


@dataclass(frozen=True)
class Chat:
    """A registered Telegram group."""

    group_id: int
    chat_id: int
    kind: str  # COORDINATOR_GROUP or BRIEFING_GROUP
    active: bool = True


def _private(people: Iterable[Person]) -> list[Recipient]:
    return [Recipient(p.chat_id, member_id=p.member_id)
            for p in sorted(people, key=lambda p: p.member_id)]


def _groups(chats: Iterable[Chat], kind: str) -> list[Recipient]:
    return [Recipient(c.chat_id, group_id=c.group_id)
            for c in sorted(chats, key=lambda c: c.group_id) if c.kind == kind and c.active]


def reachable(person: Person) -> bool:
    """Active (has not blocked the bot) and not on holiday (/paus)."""
    return person.active and not person.paused


def coordinator_groups(chats: Iterable[Chat]) -> list[Recipient]:
    """Every active coordinator group: the daily lägesbild, the digest and the alerts."""
    return _groups(chats, COORDINATOR_GROUP)


def briefing_recipients(people: Iterable[Person], chats: Iterable[Chat]) -> list[Recipient]:
    """The Friday utsättning: active, unpaused field members, then active briefing groups."""
    field = [p for p in people if p.role == FIELD_ROLE and reachable(p)]
    return _private(field) + _groups(chats, BRIEFING_GROUP)


def evening_start(moment: datetime, tz: tzinfo) -> datetime:
    """18.00 local of the evening ``moment`` belongs to (a 00.30 reminder: the day before).

    Returned in ``moment``'s time zone.
    """
    local = moment.astimezone(tz)
    start = datetime.combine(local.date(), EVENING_STARTS, tzinfo=tz)
    if start > local:
        start = datetime.combine(local.date() - timedelta(days=1), EVENING_STARTS, tzinfo=tz)
    return start.astimezone(moment.tzinfo)


def reminder_recipients(
    briefed: Iterable[Person],
    reports: Iterable[tuple[int, datetime]],
    occurrence: datetime,
    tz: tzinfo,
) -> list[Recipient]:
    """The evening nudge: briefed members, still reachable, who sent nothing this evening.

    ``briefed`` are the members the latest briefing reached in private (the caller finds
    that briefing: at most ``BRIEFING_REACH`` before ``occurrence``); ``reports`` are
    (member_id, received_at) of their reports, any superset of this evening's. A report
    counts when it was received from ``evening_start`` up to ``occurrence``, inclusive.
    """
    since = evening_start(occurrence, tz)
    reported: Collection[int] = {member_id for member_id, received_at in reports
                                 if since <= received_at <= occurrence}
    return _private(p for p in briefed if reachable(p) and p.member_id not in reported)


__all__ = [
    "BRIEFING_GROUP",
    "BRIEFING_REACH",
    "COORDINATOR_GROUP",
    "COORDINATOR_ROLES",
    "EVENING_STARTS",
    "FIELD_ROLE",
    "Chat",
    "Person",
    "Recipient",
    "briefing_recipients",
    "coordinator_groups",
    "evening_start",
    "reachable",
    "reminder_recipients",
]
