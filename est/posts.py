"""The scheduled posts, described once: what, when, to whom, per which period, by name.

``POSTS`` is the one list of scheduled posts. Everything that deals with posts reads
it: the scheduler (bot.outbound.schedule: triggers, period keys, recipients), the composers
(bot.outbound.posts.composer_for maps ``composer`` to its function), ``lagesbild preview``
(bot.cli.preview: which posts can be previewed, at which clock) and the admins'
notices about posts (bot.outbound.delivery, bot.outbound.schedule: ``name``).

A post's times come from its field in the config's ``[schedule]`` section
(``setting``): a clock ``"HH:MM"`` on ``weekday`` (None: every day), or a list of
weekly times ``"fri 23:30"``; an empty clock or list turns the post off.

``PUSHES`` names the one-off pushes that go through the same outbox (alerts, level
changes), so a notice about any outbox kind can name it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from enum import StrEnum

from est.config import Schedule, parse_clock, parse_weekly

THURSDAY, FRIDAY = 3, 4  # Monday = 0


class Audience(StrEnum):
    """Who a post goes to; each is one rule in est.recipients."""

    COORDINATOR_GROUPS = "coordinator_groups"  # est.recipients.coordinator_groups
    FIELD = "field"  # est.recipients.briefing_recipients
    UNREPORTED_BRIEFED = "unreported_briefed"  # est.recipients.reminder_recipients


def day_key(occurrence: datetime, tz: tzinfo) -> str:
    """One post per local date."""
    return f"{occurrence.astimezone(tz):%Y-%m-%d}"


def minute_key(occurrence: datetime, tz: tzinfo) -> str:
    """One post per local date and time (several a day are possible)."""
    return f"{occurrence.astimezone(tz):%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class PostKind:
    """One kind of scheduled post."""

    kind: str  # outbox kind (≤ 24 characters), job names, the preview's argument
    name: str  # Swedish, as the admins read it: "fredagens utsättning"
    setting: str  # its field in config.schedule
    weekday: int | None  # Monday = 0; None: every day (weekly lists carry their own day)
    audience: Audience
    composer: str  # the compose function's name in bot.outbound.posts
    period: Callable[[datetime, tzinfo], str]  # the outbox period key of one occurrence
    preview: bool = True  # offered by ``lagesbild preview``

    def times(self, schedule: Schedule) -> list[tuple[int | None, time]]:
        """(weekday or None for every day, local time) of every switched-on schedule."""
        value = getattr(schedule, self.setting)
        if isinstance(value, list | tuple):
            return [parse_weekly(entry) for entry in value]
        if not value:
            return []
        return [(self.weekday, parse_clock(value))]

    def default_clock(self) -> time | None:
        """The config's default clock (a preview of a post that is switched off)."""
        default = Schedule.model_fields[self.setting].default
        return parse_clock(default) if isinstance(default, str) and default else None


LAGESBILD = PostKind(
    kind="lagesbild", name="den dagliga lägesbilden", setting="lagesbild_daily",
    weekday=None, audience=Audience.COORDINATOR_GROUPS, composer="compose_daily",
    period=day_key)
DIGEST = PostKind(
    kind="digest", name="torsdagsunderlaget", setting="thursday_digest", weekday=THURSDAY,
    audience=Audience.COORDINATOR_GROUPS, composer="compose_digest", period=day_key)
BRIEFING = PostKind(
    kind="briefing", name="fredagens utsättning", setting="friday_briefing", weekday=FRIDAY,
    audience=Audience.FIELD, composer="compose_briefing", period=day_key)
REMINDER = PostKind(
    kind="reminder", name="påminnelsen", setting="reminders", weekday=None,
    audience=Audience.UNREPORTED_BRIEFED, composer="compose_reminder", period=minute_key,
    preview=False)

POSTS: tuple[PostKind, ...] = (LAGESBILD, DIGEST, BRIEFING, REMINDER)
PREVIEWS: tuple[PostKind, ...] = tuple(p for p in POSTS if p.preview)


@dataclass(frozen=True)
class Push:
    """A one-off push through the outbox, keyed by the row it is about."""

    kind: str  # outbox kind (≤ 24 characters)
    name: str  # Swedish, as the admins read it


LEVEL = Push("level", "nivåändringen")  # a level change, to the coordinator groups
LEVEL_FIELD = Push("level_field", "nivåändringen")  # its short notice to the field
ALERT = Push("alert", "larmet")  # a suggested level
URGENT = Push("urgent", "ett brådskande larm")  # a report in an urgent category

PUSHES: tuple[Push, ...] = (LEVEL, LEVEL_FIELD, ALERT, URGENT)


def post_kind(kind: str) -> PostKind:
    """The description of a scheduled post; ValueError for an unknown kind."""
    for post in POSTS:
        if post.kind == kind:
            return post
    raise ValueError(f"unknown scheduled post {kind!r}")


def name_of(kind: str) -> str | None:
    """The Swedish name of any outbox kind (a post or a push); None when it has none."""
    return next((p.name for p in (*POSTS, *PUSHES) if p.kind == kind), None)


def scheduled(schedule: Schedule) -> list[tuple[PostKind, int | None, time]]:
    """Every switched-on schedule as (post, weekday or None, local time), in POSTS order."""
    return [(post, weekday, at) for post in POSTS for weekday, at in post.times(schedule)]


__all__ = [
    "ALERT",
    "BRIEFING",
    "DIGEST",
    "FRIDAY",
    "LAGESBILD",
    "LEVEL",
    "LEVEL_FIELD",
    "POSTS",
    "PREVIEWS",
    "PUSHES",
    "REMINDER",
    "THURSDAY",
    "URGENT",
    "Audience",
    "PostKind",
    "Push",
    "day_key",
    "minute_key",
    "name_of",
    "post_kind",
    "scheduled",
]
