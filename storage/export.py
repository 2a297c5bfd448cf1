"""Reading the reports of an export: only what the viewer may see, never who reported."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.export import ReportRecord
from est.report_draft import FORMEDLAD
from storage.models import Report
from storage.reports import categories_of


async def export_records(
    session: AsyncSession, *, since: datetime, until: datetime, viewer_org_key: str | None,
) -> list[ReportRecord]:
    """Reports that happened in ``[since, until)`` and a coordinator may see, oldest first.

    Förmedlade reports plus ``viewer_org_key``'s own egna ones (förmedlade only when it is
    None); withdrawn reports are left out. The member column is never selected.
    """
    visible = col(Report.sharing) == FORMEDLAD
    if viewer_org_key is not None:
        visible = or_(visible, col(Report.org_key) == viewer_org_key)
    query = (
        select(Report.id, Report.reference, Report.received_at, Report.occurred_at,
               Report.area_key, Report.place_key, Report.place_name, Report.lat, Report.lon,
               Report.people, Report.severity, Report.sharing, Report.org_key, Report.text)
        .where(col(Report.occurred_at) >= since, col(Report.occurred_at) < until,
               col(Report.withdrawn_at).is_(None), visible)
        .order_by(col(Report.occurred_at), col(Report.id))
    )
    rows = list((await session.exec(query)).all())
    categories = await categories_of(session, [row.id for row in rows])
    return [
        ReportRecord(
            reference=row.reference or f"#{row.id}", received_at=row.received_at,
            occurred_at=row.occurred_at, area_key=row.area_key, place_key=row.place_key,
            place_name=row.place_name, lat=row.lat, lon=row.lon,
            category_keys=tuple(sorted(categories[row.id])), people=row.people,
            severity=row.severity, sharing=row.sharing, org_key=row.org_key, text=row.text,
        )
        for row in rows
    ]
