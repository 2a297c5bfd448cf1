"""Agenda items coordinators flag for the Thursday meeting (points 5–7)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.digest import AGENDA_KINDS, AgendaEntry
from storage.models import AgendaItem, Member


async def add_item(session: AsyncSession, *, kind: str, text: str, member_id: int | None,
                   now: datetime, area_key: str | None = None) -> tuple[AgendaItem, bool]:
    """Store a flagged item; (item, created). The same open item is not stored twice."""
    if kind not in AGENDA_KINDS:
        raise ValueError(f"unknown agenda kind {kind!r}")
    same = await session.exec(select(AgendaItem).where(
        AgendaItem.kind == kind, AgendaItem.text == text,
        AgendaItem.created_by_member_id == member_id, col(AgendaItem.resolved_at).is_(None)))
    existing = same.first()
    if existing is not None:
        return existing, False
    item = AgendaItem(kind=kind, text=text, area_key=area_key, created_by_member_id=member_id,
                      created_at=now)
    session.add(item)
    await session.flush()
    return item, True


async def open_items(session: AsyncSession, *, at: datetime) -> list[AgendaItem]:
    """Items flagged up to ``at`` and not resolved by then, oldest first."""
    query = select(AgendaItem).where(
        col(AgendaItem.created_at) <= at,
        col(AgendaItem.resolved_at).is_(None) | (col(AgendaItem.resolved_at) > at),
    )
    return list((await session.exec(query.order_by(col(AgendaItem.created_at),
                                                   col(AgendaItem.id)))).all())


async def agenda_entries(session: AsyncSession, *, at: datetime) -> list[AgendaEntry]:
    """The open items as plain data with the flagging member's organisation (no name)."""
    items = await open_items(session, at=at)
    member_ids = {i.created_by_member_id for i in items if i.created_by_member_id is not None}
    orgs: dict[int, str] = {}
    if member_ids:
        rows = await session.exec(select(Member.id, Member.org_key)
                                  .where(col(Member.id).in_(member_ids)))
        orgs = dict(rows.all())
    return [AgendaEntry(item_id=i.id, kind=i.kind, text=i.text, area_key=i.area_key,
                        org_key=orgs.get(i.created_by_member_id), created_at=i.created_at)
            for i in items]


async def resolve_item(session: AsyncSession, item_id: int, now: datetime
                       ) -> tuple[AgendaItem | None, bool]:
    """Mark an item done; (item, changed). None when there is no such item."""
    item = (await session.exec(select(AgendaItem).where(AgendaItem.id == item_id)
                               .with_for_update())).first()
    if item is None or item.resolved_at is not None:
        return item, False
    item.resolved_at = now
    session.add(item)
    await session.flush()
    return item, True
