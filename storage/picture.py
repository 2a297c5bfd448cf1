"""What the samlad lägesbild reads: levels with who set them, events, insatser, free text.

Rows are turned into the plain input types of ``est.lagesbild`` here, so the domain
never sees an ORM object.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.lagesbild import EventInfo, InsatsInfo, LevelInfo
from est.levels import Level
from storage.levels import current_levels
from storage.models import Event, Insats, Member, Report

OPEN_INSATS = ("planned", "running")


async def level_infos(session: AsyncSession) -> dict[str, LevelInfo]:
    """Every area's current level with the first name and organisation of who set it."""
    rows = await current_levels(session)
    setter_ids = {r.set_by_member_id for r in rows.values() if r.set_by_member_id is not None}
    setters: dict[int, Member] = {}
    if setter_ids:
        found = await session.exec(select(Member).where(col(Member.id).in_(setter_ids)))
        setters = {m.id: m for m in found}
    infos = {}
    for area_key, row in rows.items():
        member = setters.get(row.set_by_member_id) if row.set_by_member_id else None
        infos[area_key] = LevelInfo(
            level=Level(row.level), reason=row.reason,
            set_by=member.first_name if member else None,
            set_by_org_key=member.org_key if member else None, set_at=row.set_at,
        )
    return infos


async def upcoming_events(
    session: AsyncSession, *, since: datetime, until: datetime, area_key: str | None = None
) -> list[EventInfo]:
    """Events starting in ``[since, until)``; with an area, also the kommun-wide ones."""
    query = select(Event).where(col(Event.starts_at) >= since, col(Event.starts_at) < until)
    if area_key is not None:
        query = query.where((Event.area_key == area_key) | col(Event.area_key).is_(None))
    rows = await session.exec(query.order_by(col(Event.starts_at), col(Event.id)))
    return [EventInfo(area_key=e.area_key, starts_at=e.starts_at, title=e.title) for e in rows]


async def open_insatser(
    session: AsyncSession, *, now: datetime, area_key: str | None = None
) -> list[InsatsInfo]:
    """Planned and running insatser that have not ended yet."""
    query = select(Insats).where(col(Insats.status).in_(OPEN_INSATS),
                                 col(Insats.ends_at) >= now)
    if area_key is not None:
        query = query.where(Insats.area_key == area_key)
    rows = await session.exec(query.order_by(col(Insats.starts_at), col(Insats.id)))
    return [
        InsatsInfo(area_key=i.area_key, place_key=i.place_key, place_name=i.place_name,
                   what=i.what, org_key=i.org_key, starts_at=i.starts_at, ends_at=i.ends_at,
                   status=i.status)
        for i in rows
    ]


async def report_texts(
    session: AsyncSession, *, since: datetime, until: datetime, area_key: str | None = None
) -> dict[int, str]:
    """Free text of the reports that happened in ``[since, until)`` and have any."""
    query = select(Report.id, Report.text).where(
        col(Report.occurred_at) >= since, col(Report.occurred_at) < until,
        col(Report.text).is_not(None), col(Report.withdrawn_at).is_(None),
    )
    if area_key is not None:
        query = query.where(Report.area_key == area_key)
    return {report_id: text for report_id, text in await session.exec(query) if text}
