"""The warning-signal checklist (Bilaga 3) per area: drafts while it is filled in, then done.

A checklist belongs to the coordinator who started it. It is the domain record of the
scoring; the conversation that fills it in is a dialog (bot.features.checklist.dialog)
whose data names the row. Every answer is written at once, so a half-done checklist
survives a restart and can be resumed, in a new dialog if need be; answering the same
statement twice sets the same value again. Only ``done`` checklists count
(storage.levels.latest_checklist).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.checklist import MAX_VALUE, MIN_VALUE, STATEMENTS, ChecklistScore
from storage.models import Checklist

DRAFT, DONE, CANCELLED = "draft", "done", "cancelled"
NUMBERS = tuple(s.number for s in STATEMENTS)


async def member_draft(session: AsyncSession, member_id: int, area_key: str) -> Checklist | None:
    """The member's unfinished checklist for the area, newest first."""
    query = (select(Checklist)
             .where(Checklist.member_id == member_id, Checklist.area_key == area_key,
                    Checklist.status == DRAFT)
             .order_by(col(Checklist.id).desc()).limit(1))
    return (await session.exec(query)).first()


async def member_drafts(session: AsyncSession, member_id: int) -> list[Checklist]:
    """All unfinished checklists of the member (at most one per area is kept open)."""
    query = (select(Checklist)
             .where(Checklist.member_id == member_id, Checklist.status == DRAFT)
             .order_by(col(Checklist.id)))
    return list((await session.exec(query)).all())


async def start(session: AsyncSession, *, member_id: int, area_key: str,
                now: datetime) -> Checklist:
    """A new, empty checklist; the member's earlier draft for the area is cancelled."""
    earlier = await session.exec(
        select(Checklist).where(Checklist.member_id == member_id,
                                Checklist.area_key == area_key, Checklist.status == DRAFT)
    )
    for row in earlier:
        cancel(row, now)
        session.add(row)
    row = Checklist(area_key=area_key, member_id=member_id, answers={}, status=DRAFT,
                    created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def lock(session: AsyncSession, checklist_id: int) -> Checklist | None:
    """Load a checklist for change; row-locked on PostgreSQL."""
    query = select(Checklist).where(Checklist.id == checklist_id).with_for_update()
    return (await session.exec(query)).first()


def answers_of(row: Checklist) -> dict[int, int]:
    """Statement number → value; JSON keeps the numbers as strings."""
    return {int(number): int(value) for number, value in (row.answers or {}).items()}


def score_of(row: Checklist) -> ChecklistScore:
    return ChecklistScore(answers_of(row))


def valid_answer(number: int, value: int) -> bool:
    return number in NUMBERS and MIN_VALUE <= value <= MAX_VALUE


def set_answer(row: Checklist, number: int, value: int, now: datetime) -> None:
    """Record one answer; setting the same value twice changes nothing else."""
    if not valid_answer(number, value):
        raise ValueError(f"invalid checklist answer {number}={value}")
    answers = {str(n): v for n, v in answers_of(row).items()}
    answers[str(number)] = value
    # A new dict object, so SQLAlchemy sees the JSON column as changed.
    row.answers = dict(sorted(answers.items(), key=lambda item: int(item[0])))
    row.updated_at = now


def first_unanswered(answers: dict[int, int], after: int = 0) -> int | None:
    """The first open statement after ``after``, else the first open one at all."""
    open_numbers = [n for n in NUMBERS if n not in answers]
    later = [n for n in open_numbers if n > after]
    if later:
        return later[0]
    return open_numbers[0] if open_numbers else None


def is_complete(row: Checklist) -> bool:
    return all(n in answers_of(row) for n in NUMBERS)


def complete(row: Checklist, now: datetime) -> None:
    row.status, row.completed_at, row.updated_at = DONE, now, now


def cancel(row: Checklist, now: datetime) -> None:
    row.status, row.updated_at = CANCELLED, now
