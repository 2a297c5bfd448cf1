"""Where upcoming events and insatser are stored, and the facts their messages need.

An Event or Insats row exists only once the coordinator pressed "Spara": the dialog
that collects it is a row of ``dialogs`` (bot.features.planning, storage.dialogs) and
records the new row's id, so a second press or a replayed update gives the same row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.planning import CANCELLED, DONE, PLANNED, RUNNING, FeedbackCandidate
from storage.models import Event, Insats, Member, Report

# ---------------------------------------------------------------- events

async def add_event(session: AsyncSession, *, area_key: str | None, starts_at: datetime,
                    title: str, member_id: int, now: datetime) -> Event:
    event = Event(area_key=area_key, starts_at=starts_at, title=title,
                  created_by_member_id=member_id, created_at=now)
    session.add(event)
    await session.flush()
    return event


async def upcoming_events(session: AsyncSession, *, since: datetime, until: datetime,
                          area_key: str | None = None) -> list[Event]:
    """Events starting in ``[since, until)``; for an area also the kommun-wide ones."""
    query = select(Event).where(col(Event.starts_at) >= since, col(Event.starts_at) < until)
    if area_key is not None:
        query = query.where(or_(col(Event.area_key) == area_key, col(Event.area_key).is_(None)))
    return list((await session.exec(query.order_by(col(Event.starts_at), col(Event.id)))).all())


# ---------------------------------------------------------------- insatser

async def add_insats(session: AsyncSession, **fields: Any) -> Insats:
    insats = Insats(status=PLANNED, **fields)
    session.add(insats)
    await session.flush()
    return insats


async def current_insatser(session: AsyncSession, *, now: datetime,
                           area_key: str | None = None) -> list[Insats]:
    """Planned and running insatser that have not ended, soonest first."""
    query = select(Insats).where(col(Insats.status).in_([PLANNED, RUNNING]),
                                 col(Insats.ends_at) > now)
    if area_key is not None:
        query = query.where(Insats.area_key == area_key)
    return list((await session.exec(query.order_by(col(Insats.starts_at), col(Insats.id)))).all())


async def lock_insats(session: AsyncSession, insats_id: int) -> Insats | None:
    return (
        await session.exec(select(Insats).where(Insats.id == insats_id).with_for_update())
    ).first()


async def not_followed_up(session: AsyncSession) -> list[Insats]:
    """Insatser not cancelled whose uppföljning was not asked yet (est.planning.followup_due
    decides which of them are due)."""
    query = select(Insats).where(col(Insats.followup_asked_at).is_(None),
                                 col(Insats.status) != CANCELLED)
    return list((await session.exec(query.order_by(col(Insats.ends_at), col(Insats.id)))).all())


async def release_followup(session: AsyncSession, insats_id: int) -> None:
    """The question could not be sent this time: the next run asks again."""
    await session.exec(update(Insats).where(col(Insats.id) == insats_id)
                       .values(followup_asked_at=None))


async def claim_followup(session: AsyncSession, insats_id: int, now: datetime) -> bool:
    """Mark the uppföljning as asked, exactly once even with two processes.

    An insats past its end is done from now on. Commit before asking.
    """
    result = await session.exec(
        update(Insats)
        .where(col(Insats.id) == insats_id, col(Insats.followup_asked_at).is_(None))
        .values(followup_asked_at=now)
    )
    if result.rowcount != 1:
        return False
    await session.exec(
        update(Insats)
        .where(col(Insats.id) == insats_id, col(Insats.status).in_([PLANNED, RUNNING]))
        .values(status=DONE)
    )
    return True


async def feedback_candidates(session: AsyncSession, *, area_key: str, place_key: str,
                              since: datetime) -> list[FeedbackCandidate]:
    """Reports about one known place since ``since``, with their reporters' switches."""
    rows = await session.exec(
        select(Report.member_id, Report.occurred_at, Report.withdrawn_at, Member.active,
               Member.paused, Member.feedback_opt_out)
        .join(Member, col(Member.id) == col(Report.member_id))
        .where(Report.area_key == area_key, Report.place_key == place_key,
               col(Report.occurred_at) >= since)
    )
    return [
        FeedbackCandidate(member_id=member_id, occurred_at=occurred_at,
                          withdrawn=withdrawn_at is not None, active=active, paused=paused,
                          opted_out=opted_out)
        for member_id, occurred_at, withdrawn_at, active, paused, opted_out in rows
    ]


# ---------------------------------------------------------------- members

async def set_feedback_opt_out(session: AsyncSession, member_id: int, opted_out: bool) -> None:
    member = await session.get(Member, member_id)
    if member is not None:
        member.feedback_opt_out = opted_out
        session.add(member)
