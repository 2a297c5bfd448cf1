"""Where a report is stored: drafts while the dialog runs, reports once sent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.report_draft import ReportDraft as DraftData
from est.report_draft import format_reference
from storage import dialogs
from storage.models import Dialog, Member, Report, ReportCategory

REPORT, CALM = "report", "calm"  # the dialog kinds that end in a report


async def open_draft(session: AsyncSession, *, member_id: int, chat_id: int, step: str,
                     data: dict[str, Any], now: datetime, kind: str = REPORT,
                     update_id: int | None = None) -> Dialog:
    """A report dialog row (used by the dialog engine and by test factories)."""
    return await dialogs.open_dialog(session, kind=kind, replaces=(REPORT, CALM),
                                     member_id=member_id, chat_id=chat_id, step=step,
                                     data=data, now=now, update_id=update_id)


async def submit_draft(
    session: AsyncSession, draft: Dialog, member: Member, *, now: datetime, year: int
) -> Report:
    """Turn a report dialog into a report, exactly once.

    A dialog that was already submitted returns its report: a second "Skicka"
    or a redelivered update never makes a second report.
    """
    existing = await report_of_draft(session, draft)
    if existing is not None:
        return existing
    data = DraftData.from_json(draft.data)
    if data.editing_report_id is not None:
        report = await session.get(Report, data.editing_report_id)
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
    draft.status, draft.updated_at = dialogs.DONE, now
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


async def report_of_draft(session: AsyncSession, draft: Dialog) -> Report | None:
    if draft.status != dialogs.DONE:
        return None
    editing = draft.data.get("editing_report_id")
    if editing is not None:
        return await session.get(Report, editing)
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
