"""Where a report is stored: drafts while the dialog runs, reports once sent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.report_draft import ReportDraft as DraftData
from est.report_draft import format_reference
from storage.models import Member, Report, ReportCategory, ReportDraft

OPEN, SUBMITTED, CANCELLED = "open", "submitted", "cancelled"


async def open_draft(
    session: AsyncSession,
    *,
    member_id: int,
    chat_id: int,
    step: str,
    data: dict[str, Any],
    now: datetime,
    editing_report_id: int | None = None,
) -> ReportDraft:
    """Start a new dialog; any earlier open dialog of the member is cancelled."""
    await session.exec(
        update(ReportDraft)
        .where(col(ReportDraft.member_id) == member_id, col(ReportDraft.status) == OPEN)
        .values(status=CANCELLED, updated_at=now)
    )
    draft = ReportDraft(member_id=member_id, chat_id=chat_id, step=step, data=data,
                        created_at=now, updated_at=now, editing_report_id=editing_report_id)
    session.add(draft)
    await session.flush()
    return draft


async def lock_draft(session: AsyncSession, draft_id: int) -> ReportDraft | None:
    """Load a draft for change; row-locked on PostgreSQL."""
    return (
        await session.exec(select(ReportDraft).where(ReportDraft.id == draft_id).with_for_update())
    ).first()


async def current_draft(session: AsyncSession, member_id: int) -> ReportDraft | None:
    return (
        await session.exec(
            select(ReportDraft)
            .where(ReportDraft.member_id == member_id, ReportDraft.status == OPEN)
            .order_by(col(ReportDraft.id).desc())
        )
    ).first()


def save_step(draft: ReportDraft, *, step: str, data: DraftData, update_id: int,
              now: datetime) -> None:
    # A new dict object, so SQLAlchemy sees the JSON column as changed.
    draft.data = dict(data.to_json())
    draft.step, draft.updated_at = step, now
    draft.last_update_id = max(draft.last_update_id, update_id)


async def submit_draft(
    session: AsyncSession, draft: ReportDraft, member: Member, *, now: datetime, year: int
) -> Report:
    """Turn a draft into a report, exactly once.

    A draft that was already submitted returns its report: a second "Skicka"
    or a redelivered update never makes a second report.
    """
    existing = await report_of_draft(session, draft)
    if existing is not None:
        return existing
    data = DraftData.from_json(draft.data)
    if draft.editing_report_id is not None:
        report = await session.get(Report, draft.editing_report_id)
        if report is None or report.member_id != member.id:
            raise LookupError("report to edit is gone")
        await session.exec(
            delete(ReportCategory).where(col(ReportCategory.report_id) == report.id)
        )
    else:
        report = Report(member_id=member.id, org_key=member.org_key, received_at=now,
                        draft_id=draft.id, area_key="", occurred_at=now, updated_at=now)
    _fill(report, data, now)
    session.add(report)
    await session.flush()
    if report.reference is None:
        report.reference = format_reference(year, report.id)
    session.add_all(ReportCategory(report_id=report.id, category_key=key)
                    for key in dict.fromkeys(data.categories))
    draft.status, draft.updated_at = SUBMITTED, now
    session.add(draft)
    await session.flush()
    return report


def _fill(report: Report, data: DraftData, now: datetime) -> None:
    report.area_key = data.area or ""
    report.place_key, report.place_name = data.place_key, data.place_name
    report.lat, report.lon = data.lat, data.lon
    report.occurred_at = data.occurred() or now
    report.people, report.severity, report.text = data.people, data.severity, data.text
    report.sharing = data.sharing
    report.updated_at = now


async def report_of_draft(session: AsyncSession, draft: ReportDraft) -> Report | None:
    if draft.status != SUBMITTED:
        return None
    if draft.editing_report_id is not None:
        return await session.get(Report, draft.editing_report_id)
    return (await session.exec(select(Report).where(Report.draft_id == draft.id))).first()


async def latest_reports(session: AsyncSession, member_id: int, limit: int = 5) -> list[Report]:
    return list(
        (
            await session.exec(
                select(Report)
                .where(Report.member_id == member_id)
                .order_by(col(Report.received_at).desc(), col(Report.id).desc())
                .limit(limit)
            )
        ).all()
    )


async def categories_of(session: AsyncSession, report_ids: Iterable[int]) -> dict[int, list[str]]:
    ids = list(report_ids)
    result: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return result
    rows = await session.exec(
        select(ReportCategory).where(col(ReportCategory.report_id).in_(ids))
    )
    for row in rows:
        result[row.report_id].append(row.category_key)
    return result


async def own_report(session: AsyncSession, report_id: int, member_id: int) -> Report | None:
    report = await session.get(Report, report_id)
    return report if report is not None and report.member_id == member_id else None


async def count_reports(session: AsyncSession) -> int:
    from sqlalchemy import func

    return (await session.exec(select(func.count()).select_from(Report))).one()
