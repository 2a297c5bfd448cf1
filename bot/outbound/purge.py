"""The nightly gallring and the admins' monthly summary of it.

Every night at ``PURGE_AT`` (local time, a quiet hour) the JobQueue runs the gallring
(storage.retention.purge, actor ``system``): each batch commits with its audit row, so a
night interrupted by a crash or a restart is finished by the next run (or by ``lagesbild
purge``). Jobs are in memory: a night the bot was not running is simply done the night
after, which the kommun's gallringsbeslut should allow for ("gallras en gång per dygn").
The trigger's run (``run_if_due``) goes ahead only when the services' clock is within
``MISFIRE_GRACE_S`` after 03:30 and the night has no finished system run yet, so two bot
processes purge once per night.

The first run of a month tells the admins, through the outbox (bot.outbound.delivery, one
notice per month and admin), what the gallring removed the month before, counted from the
audit rows of all runs (the nightly job and the shell alike). A run that fails tells them
too, once per day.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from apscheduler.triggers.cron import CronTrigger
from telegram.ext import Application

from bot.core.services import Services
from bot.outbound import delivery
from est import retention as rules
from est.retention import MonthSummary, PurgeResult
from storage import audit, outbox
from storage import retention as store

log = logging.getLogger(__name__)

JOB_NAME = "gallring"
PURGE_AT = time(3, 30)
# A loop blocked at 03:30 still runs the purge within this many seconds.
MISFIRE_GRACE_S = 6 * 3600
SUMMARY_KEY = "gallring:{month}"  # one admin notice per month (outbox key ≤ 32)
FAILED_KEY = "gallring-fel:{day}"  # one failure notice per day


async def month_summary(services: Services, now) -> MonthSummary | None:
    """What the gallring did in the month before ``now``; None if it never ran then."""
    month = rules.previous_month(now, services.config.tz)
    async with services.db.session() as session:
        runs, counts = await store.purged_between(session, month.since, month.until)
        if runs == 0 and not any(counts.values()):
            return None
        scope = await store.scope_for(session, services.config, now)
        held = await store.held_count(session, scope)
    return MonthSummary(month, runs, counts, holds=len(scope.holds), held=held)


async def send_summary(services: Services, bot, summary: MonthSummary) -> int:
    """Tell the admins once per month; a later run only retries deliveries that failed
    for a moment (an admin who joined since gets no old summary). Returns how many got it."""
    key = SUMMARY_KEY.format(month=summary.month.key)
    text = services.render("retention", "summary", month=summary.month.label,
                           runs=summary.runs,
                           lines=[(kind.key, count) for kind, count in summary.lines()],
                           holds=summary.holds, held=summary.held)
    async with services.db.session() as session:
        row = await outbox.find(session, delivery.ADMIN_KIND, key)
        started = await outbox.deliveries(session, row.id) if row is not None else []
    if not started:
        return await delivery.tell_admins(services, bot, text, key=key)
    told = 0
    for waiting in started:
        if waiting.status in (outbox.PENDING, outbox.SENDING):
            sent = await delivery.send_once(services, bot, kind=delivery.ADMIN_KIND, key=key,
                                            chat_id=waiting.chat_id, text=text)
            told += sent is not None
    return told


async def run_purge(services: Services, bot) -> PurgeResult:
    """One night: the month's summary (before this run, so it covers the month before),
    the gallring, and the summary sent. A failure is told to the admins and re-raised."""
    now = services.now()
    summary = await month_summary(services, now)
    try:
        result = await store.purge(services.db, services.config, now=now, actor=audit.SYSTEM)
    except Exception:
        local = now.astimezone(services.config.tz)
        await delivery.tell_admins(services, bot,
                                   services.render("retention", "failed",
                                                   day=services.messages.day(now)),
                                   key=FAILED_KEY.format(day=f"{local:%Y-%m-%d}"))
        raise
    finally:
        if summary is not None:
            await send_summary(services, bot, summary)
    log.info("gallring: %s (held by legal holds: %d)",
             ", ".join(f"{kind} {count}" for kind, count in result.counts.items() if count)
             or "nothing due", result.held)
    return result


def last_occurrence(now: datetime, tz) -> datetime:
    """The last ``PURGE_AT`` (local) at or before ``now``, in UTC. 03:30 exists on every
    day in Sweden: the clocks change at 02:00 and 03:00."""
    local = now.astimezone(tz)
    moment = datetime.combine(local.date(), PURGE_AT, tzinfo=tz)
    if moment > local:
        moment = datetime.combine(local.date() - timedelta(days=1), PURGE_AT, tzinfo=tz)
    return moment.astimezone(UTC)


async def run_if_due(services: Services, bot) -> PurgeResult | None:
    """The trigger's run: only within the grace after 03:30 by the services' clock, and
    once per night (a second process, or a second trigger, finds the night's run row)."""
    now = services.now()
    occurrence = last_occurrence(now, services.config.tz)
    if now - occurrence > timedelta(seconds=MISFIRE_GRACE_S):
        log.info("gallring: not the purge hour by the clock (%s); not run", now)
        return None
    async with services.db.session() as session:
        done = await store.runs_since(session, occurrence, actor=audit.SYSTEM)
    if done:
        log.info("gallring: this night's run is done already")
        return None
    return await run_purge(services, bot)


async def _nightly(context) -> None:
    services: Services = context.application.bot_data["services"]
    try:
        await run_if_due(services, context.bot)
    except Exception:
        log.exception("the nightly gallring failed; the next run finishes it")


def schedule_purge(application: Application) -> None:
    """Register the nightly gallring (called by build_application)."""
    services: Services = application.bot_data["services"]
    trigger = CronTrigger(hour=PURGE_AT.hour, minute=PURGE_AT.minute,
                          timezone=services.config.tz)
    application.job_queue.run_custom(
        _nightly, name=JOB_NAME,
        job_kwargs={"trigger": trigger, "misfire_grace_time": MISFIRE_GRACE_S,
                    "coalesce": True, "max_instances": 1},
    )
