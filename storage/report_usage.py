"""What a reporter's earlier reports say about the next one: the choices to offer first.

Read-only queries for the guided report (bot.features.reports.report_dialog): how often
an organisation reported each category lately, and the member's last delning choice.
Calm reports (/lugnt) say nothing about either and are left out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Report, ReportCategory


async def category_usage(session: AsyncSession, org_key: str, since: datetime) -> dict[str, int]:
    """Category key → number of the organisation's reports since ``since`` (withdrawn
    reports left out)."""
    rows = await session.exec(
        select(ReportCategory.category_key, func.count())
        .join(Report, col(Report.id) == col(ReportCategory.report_id))
        .where(Report.org_key == org_key, col(Report.received_at) >= since,
               col(Report.withdrawn_at).is_(None))
        .group_by(ReportCategory.category_key)
    )
    return {key: int(count) for key, count in rows}


async def last_sharing(session: AsyncSession, member_id: int, calm_key: str) -> str | None:
    """The delning of the member's latest report that was not a calm one, if any."""
    not_calm = (
        select(ReportCategory.report_id)
        .where(ReportCategory.category_key != calm_key)
    )
    row = await session.exec(
        select(Report.sharing)
        .where(Report.member_id == member_id, col(Report.id).in_(not_calm))
        .order_by(col(Report.received_at).desc(), col(Report.id).desc())
        .limit(1)
    )
    return row.first()
