"""Where upcoming events, insatser and their dialogs are stored.

Dialog state, restart-safe without a new table: a coordinator's /handelse or /insats
dialog, and the optional comment of an uppföljning, is a row of ``report_drafts``
(storage.models.ReportDraft) with its own statuses ``plan_open`` → ``plan_done`` /
``plan_cancelled``. The table already is the project's "dialog written on every step"
record: it has the step, a JSON data column, the chat and message of the live dialog,
``last_update_id`` (a redelivered update changes nothing twice) and ``updated_at``.
The report dialog only ever looks at rows with status ``open`` (``current_draft``,
``open_draft``) and ends any other status with "avslutad", so the two never mix;
a report is only made from a row by ``submit_draft``, which planning never calls.

The alternatives were worse: an Insats row with status "draft" would need placeholder
values in required columns (what, org_key, start and end), and every other reader of
insatser (the lägesbild, the agenda) would have to remember to skip drafts; the Event
table has no status at all. Here an Event or Insats row exists only once the
coordinator pressed "Spara", and the dialog row records its id, so a second press or
a replayed update gives the same row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.planning import (
    CANCELLED,
    DONE,
    FU_COMMENT,
    PLANNED,
    RUNNING,
    FeedbackCandidate,
    PlanDraft,
)
from storage.models import Event, Insats, Member, Report, ReportDraft
from storage.reports import OPEN as REPORT_OPEN

PLAN_OPEN, PLAN_DONE, PLAN_CANCELLED = "plan_open", "plan_done", "plan_cancelled"


# ---------------------------------------------------------------- dialog rows

async def open_dialog(session: AsyncSession, *, member_id: int, chat_id: int, step: str,
                      draft: PlanDraft, now: datetime, update_id: int) -> ReportDraft:
    """Start a planning dialog, ending the member's earlier one of the same family.

    /handelse and /insats replace each other; an uppföljning comment replaces an
    earlier comment but leaves a half-done /insats to continue afterwards.
    """
    same_family = (col(ReportDraft.step) == FU_COMMENT) if step == FU_COMMENT \
        else (col(ReportDraft.step) != FU_COMMENT)
    await session.exec(
        update(ReportDraft)
        .where(col(ReportDraft.member_id) == member_id, col(ReportDraft.status) == PLAN_OPEN,
               same_family)
        .values(status=PLAN_CANCELLED, updated_at=now)
    )
    row = ReportDraft(member_id=member_id, chat_id=chat_id, status=PLAN_OPEN, step=step,
                      data=draft.to_json(), created_at=now, updated_at=now,
                      last_update_id=update_id)
    session.add(row)
    await session.flush()
    return row


async def lock_dialog(session: AsyncSession, row_id: int) -> ReportDraft | None:
    """A planning dialog row for change (row-locked on PostgreSQL); None for report drafts."""
    row = (
        await session.exec(select(ReportDraft).where(ReportDraft.id == row_id).with_for_update())
    ).first()
    if row is None or row.status not in (PLAN_OPEN, PLAN_DONE, PLAN_CANCELLED):
        return None
    return row


async def newest_dialog(session: AsyncSession, member_id: int) -> ReportDraft | None:
    """The member's most recently touched open dialog, report or planning.

    Typed text answers whichever dialog the member used last.
    """
    return (
        await session.exec(
            select(ReportDraft)
            .where(ReportDraft.member_id == member_id,
                   col(ReportDraft.status).in_([REPORT_OPEN, PLAN_OPEN]))
            .order_by(col(ReportDraft.updated_at).desc(), col(ReportDraft.id).desc())
        )
    ).first()


def save_dialog(row: ReportDraft, *, step: str, draft: PlanDraft, update_id: int,
                now: datetime, status: str | None = None) -> None:
    row.data = dict(draft.to_json())  # a new dict, so the JSON column is seen as changed
    row.step, row.updated_at = step, now
    row.last_update_id = max(row.last_update_id, update_id)
    if status is not None:
        row.status = status


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


async def followups_due(session: AsyncSession, now: datetime) -> list[Insats]:
    """Insatser over (ended, or marked done) whose uppföljning was not asked yet."""
    query = select(Insats).where(
        col(Insats.followup_asked_at).is_(None),
        col(Insats.status) != CANCELLED,
        or_(col(Insats.status) == DONE,
            (col(Insats.status).in_([PLANNED, RUNNING])) & (col(Insats.ends_at) <= now)),
    )
    return list((await session.exec(query.order_by(col(Insats.ends_at), col(Insats.id)))).all())


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


async def mark_inactive(session: AsyncSession, member_id: int) -> None:
    """The member blocked the bot (403): send nothing more until they write again."""
    await session.exec(update(Member).where(col(Member.id) == member_id).values(active=False))
