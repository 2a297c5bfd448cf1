"""The weekly rhythm: lägesbild, Thursday digest, Friday briefing and reminders, on time.

What the posts are, when they go, to whom and per which period is described once, in
est.posts.POSTS. Every switched-on schedule there becomes a calendar (cron) trigger in
the deployment's zone: "Friday 19.00" stays 19.00 local on both sides of a DST change,
which a 7-day interval would not. When a trigger fires, ``run_due`` works out the
occurrence (the last scheduled moment not after now) and its period key, composes the
post (bot.outbound.posts.compose) and hands it to bot.outbound.delivery, whose outbox
makes it once per period even with two processes, a restart or the periodic tick racing
the trigger.

Jobs are in memory; the database is the truth. ``catch_up`` (at startup, and every
minute as a safety tick) looks at each schedule's last occurrence: unclaimed and at
most ``grace_minutes`` old, it is sent now, marked late when more than ``ON_TIME``
has passed; older, the admins are told instead (once: a ``stale`` row is recorded).
Then interrupted broadcasts are resumed and transient failures retried.

Recipients: the candidates come from the database; who of them gets the post is
decided by the post's audience rule in est.recipients.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from apscheduler.triggers.cron import CronTrigger
from sqlmodel import col, select
from telegram.ext import Application

from bot.core.services import Services
from bot.outbound import delivery, posts
from est import posts as est_posts
from est import recipients as est_recipients
from est.config import WEEKDAYS, DeploymentConfig
from est.posts import FRIDAY, THURSDAY, Audience, PostKind
from est.recipients import BRIEFING_REACH, evening_start
from storage import outbox
from storage.models import Broadcast, Member, Report

log = logging.getLogger(__name__)

DAYS = WEEKDAYS  # APScheduler: Monday = 0
# A run started later than this after its minute is marked late ("Försenat utskick").
ON_TIME = timedelta(seconds=60)
TICK_SECONDS = 60


@dataclass(frozen=True)
class Plan:
    """One schedule: a kind of post (est.posts) at a local time, every day or on one weekday."""

    kind: str
    at: time
    weekday: int | None = None  # Monday = 0; None: every day

    @property
    def post(self) -> PostKind:
        return est_posts.post_kind(self.kind)

    @property
    def name(self) -> str:
        day = DAYS[self.weekday] if self.weekday is not None else "daily"
        return f"{self.kind} {day} {self.at:%H:%M}"

    def trigger(self, tz) -> CronTrigger:
        day = DAYS[self.weekday] if self.weekday is not None else "*"
        return CronTrigger(day_of_week=day, hour=self.at.hour, minute=self.at.minute,
                           timezone=tz)

    def period(self, occurrence: datetime, tz) -> str:
        """The key of one occurrence (est.posts: its local date; reminders: date and time)."""
        return self.post.period(occurrence, tz)


# One lock per schedule and event loop: the trigger and the tick never compose the same
# post twice in one process (the outbox keeps other processes out).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _lock(name: str) -> asyncio.Lock:
    return _locks.setdefault(asyncio.get_running_loop(), {}).setdefault(name, asyncio.Lock())


def plans(config: DeploymentConfig) -> list[Plan]:
    """The schedules switched on in the config, in est.posts.POSTS order."""
    return [Plan(post.kind, at, weekday)
            for post, weekday, at in est_posts.scheduled(config.schedule)]


def previous_occurrence(plan: Plan, tz, now: datetime) -> datetime | None:
    """The last moment the plan's trigger fires at or before ``now`` (UTC)."""
    trigger = plan.trigger(tz)
    moment = trigger.get_next_fire_time(None, now - timedelta(days=8))
    last = None
    while moment is not None and moment <= now:
        last = moment
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return last.astimezone(now.tzinfo) if last is not None else None


def next_occurrences(plan: Plan, tz, start: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times after ``start`` (for tests and previews)."""
    trigger, found, moment = plan.trigger(tz), [], start
    while len(found) < count:
        moment = trigger.get_next_fire_time(found[-1] if found else None, moment)
        found.append(moment)
        moment = moment + timedelta(seconds=1)
    return found


# ---------------------------------------------------------------- recipients

async def recipients_for(services: Services, plan: Plan,
                         occurrence: datetime) -> list[outbox.Recipient]:
    """Fetch the candidates of the plan's audience; est.recipients decides who gets it."""
    audience = plan.post.audience
    async with services.db.session() as session:
        if audience == Audience.COORDINATOR_GROUPS:
            return est_recipients.coordinator_groups(await outbox.chats(session))
        if audience == Audience.FIELD:
            return est_recipients.briefing_recipients(await outbox.people(session),
                                                      await outbox.chats(session))
        if audience == Audience.UNREPORTED_BRIEFED:
            return await _reminder_recipients(services, session, occurrence)
    raise ValueError(f"unknown audience {audience!r} of {plan.kind!r}")


async def _reminder_recipients(services: Services, session,
                               occurrence: datetime) -> list[outbox.Recipient]:
    briefing = await outbox.latest(session, est_posts.BRIEFING.kind, not_after=occurrence,
                                   since=occurrence - BRIEFING_REACH)
    if briefing is None:
        log.info("reminder at %s: no briefing in the week before; nobody to remind", occurrence)
        return []
    briefed = await outbox.sent_member_ids(session, briefing.id)
    if not briefed:
        return []
    tz = services.config.tz
    reports = (await session.exec(
        select(Report.member_id, Report.received_at)
        .where(col(Report.member_id).in_(briefed),
               col(Report.received_at) >= evening_start(occurrence, tz),
               col(Report.received_at) <= occurrence))).all()
    return est_recipients.reminder_recipients(await outbox.people(session, briefed),
                                              [(m, at) for m, at in reports], occurrence, tz)


# ---------------------------------------------------------------- running one occurrence

async def _claimed(services: Services, kind: str, period: str) -> Broadcast | None:
    async with services.db.session() as session:
        return await outbox.find(session, kind, period)


async def _admin_before(services: Services, moment: datetime) -> bool:
    """Whether the deployment had an admin at ``moment``: someone to tell about a miss."""
    async with services.db.session() as session:
        found = (await session.exec(
            select(Member.id).where(Member.role == "admin", col(Member.active).is_(True),
                                    col(Member.joined_at) <= moment).limit(1))).first()
    return found is not None


async def send_plan(services: Services, bot, plan: Plan, occurrence: datetime, *,
                    late: bool = False) -> Broadcast | None:
    """Compose and broadcast one occurrence; None if it was already claimed."""
    tz = services.config.tz
    period = plan.period(occurrence, tz)
    if await _claimed(services, plan.kind, period) is not None:
        return None  # cheap check first: the digest's charts are not drawn for nothing
    post = await posts.compose(plan.kind, services, occurrence)
    if late and post.skip_reason is None:
        post = posts.mark_late(services, post, occurrence)
    recipients = await recipients_for(services, plan, occurrence)
    return await delivery.broadcast(services, bot, kind=plan.kind, period=period,
                                    scheduled_for=occurrence, post=post,
                                    recipients=recipients, late=late)


async def run_due(services: Services, bot, plan: Plan, now: datetime | None = None) -> str:
    """Handle the plan's last occurrence; returns what happened (for logs and tests).

    "sent" | "late" | "stale" (admins told) | "claimed" (already handled) | "none".
    """
    async with _lock(plan.name):
        return await _run_due(services, bot, plan, now or services.now())


async def _run_due(services: Services, bot, plan: Plan, now: datetime) -> str:
    tz = services.config.tz
    occurrence = previous_occurrence(plan, tz, now)
    if occurrence is None:
        return "none"
    period = plan.period(occurrence, tz)
    if await _claimed(services, plan.kind, period) is not None:
        return "claimed"
    age = now - occurrence
    # grace_minutes = 0 turns late sending off; a run on time still goes out.
    grace = max(timedelta(minutes=services.config.schedule.grace_minutes), ON_TIME)
    if age <= grace:
        late = age > ON_TIME
        if late:
            log.warning("%s %s is %s late; sending it marked as late", plan.kind, period,
                        age)
        claimed = await send_plan(services, bot, plan, occurrence, late=late)
        if claimed is None:
            return "claimed"
        return "late" if late else "sent"
    if not await _admin_before(services, occurrence):
        return "none"  # a new deployment: nobody was waiting for it
    async with services.db.session() as session:
        stale = await outbox.claim(session, kind=plan.kind, period=period,
                                   scheduled_for=occurrence, payload={}, now=now,
                                   status=outbox.STALE, late=True)
        if stale is None:
            return "claimed"
        await session.commit()
    log.warning("%s %s missed by %s (more than the grace); telling the admins, not sending",
                plan.kind, period, age)
    text = services.render("delivery", "stale", post_name=plan.post.name,
                           scheduled_for=occurrence,
                           grace_minutes=services.config.schedule.grace_minutes)
    await delivery.tell_admins(services, bot, text, key=f"stale:{stale.id}")
    return "stale"


async def catch_up(application: Application) -> dict[str, str]:
    """Make up for missed runs (within the grace), report stale ones, resume broadcasts."""
    services: Services = application.bot_data["services"]
    results = {}
    for plan in plans(services.config):
        try:
            results[plan.name] = await run_due(services, application.bot, plan)
        except Exception:
            log.exception("catch-up of %s failed", plan.name)
            results[plan.name] = "error"
    await delivery.resume_unfinished(services, application.bot)
    return results


# ---------------------------------------------------------------- the JobQueue

async def _scheduled(context) -> None:
    plan: Plan = context.job.data
    services: Services = context.application.bot_data["services"]
    result = await run_due(services, context.bot, plan)
    log.info("scheduled %s: %s", plan.name, result)


async def _tick(context) -> None:
    await catch_up(context.application)


def schedule_jobs(application: Application) -> None:
    """Register the scheduled posts on the application's JobQueue (called by build_application)."""
    services: Services = application.bot_data["services"]
    tz = services.config.tz
    grace_s = max(services.config.schedule.grace_minutes * 60, TICK_SECONDS)
    for plan in plans(services.config):
        application.job_queue.run_custom(
            _scheduled, name=plan.name, data=plan,
            job_kwargs={"trigger": plan.trigger(tz), "misfire_grace_time": grace_s,
                        "coalesce": True, "max_instances": 1},
        )
    application.job_queue.run_repeating(
        _tick, interval=TICK_SECONDS, first=TICK_SECONDS, name="utskick-kontroll",
        job_kwargs={"misfire_grace_time": TICK_SECONDS, "coalesce": True, "max_instances": 1},
    )


__all__ = [
    "FRIDAY",
    "ON_TIME",
    "THURSDAY",
    "Plan",
    "catch_up",
    "evening_start",
    "next_occurrences",
    "plans",
    "previous_occurrence",
    "recipients_for",
    "run_due",
    "schedule_jobs",
    "send_plan",
]
