"""Alert levels per area: the history is the record, the newest row is the level."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.checklist import ChecklistScore, signal_strength
from storage import audit
from storage.models import AreaLevel, Checklist


async def current_levels(session: AsyncSession) -> dict[str, AreaLevel]:
    """The latest level row of every area that ever had one; others are grönt."""
    newest = (
        select(AreaLevel.area_key, func.max(AreaLevel.id).label("id"))
        .group_by(AreaLevel.area_key)
        .subquery()
    )
    rows = await session.exec(select(AreaLevel).join(newest, col(AreaLevel.id) == newest.c.id))
    return {row.area_key: row for row in rows}


async def current_level(session: AsyncSession, area_key: str) -> AreaLevel | None:
    query = (select(AreaLevel).where(AreaLevel.area_key == area_key)
             .order_by(col(AreaLevel.id).desc()).limit(1))
    return (await session.exec(query)).first()


async def level_history(session: AsyncSession, area_key: str, limit: int = 20) -> list[AreaLevel]:
    query = (select(AreaLevel).where(AreaLevel.area_key == area_key)
             .order_by(col(AreaLevel.id).desc()).limit(limit))
    return list((await session.exec(query)).all())


async def record_level(
    session: AsyncSession, *, area_key: str, level: str, reason: str,
    member_id: int | None, now: datetime, alert_id: int | None = None,
) -> AreaLevel:
    previous = await current_level(session, area_key)
    row = AreaLevel(area_key=area_key, level=level, reason=reason[:500],
                    set_by_member_id=member_id, set_at=now, alert_id=alert_id)
    session.add(row)
    await session.flush()
    # The reason is free text: it stays in the level history, not in the audit log.
    await audit.record(session, "level.changed", now=now, actor_member_id=member_id,
                       object_kind="area", object_id=area_key,
                       details={"from": previous.level if previous else None, "to": level,
                                "alert": alert_id})
    return row


async def latest_checklist(session: AsyncSession, area_key: str) -> Checklist | None:
    """The newest completed checklist of the area."""
    query = (select(Checklist)
             .where(Checklist.area_key == area_key, Checklist.status == "done")
             .order_by(col(Checklist.completed_at).desc(), col(Checklist.id).desc()).limit(1))
    return (await session.exec(query)).first()


async def latest_checklist_strength(session: AsyncSession, area_key: str) -> float | None:
    """Signal strength 0..1 of the newest completed checklist, for the suggestion."""
    checklist = await latest_checklist(session, area_key)
    if checklist is None:
        return None
    answers = {int(number): value for number, value in checklist.answers.items()}
    return signal_strength(ChecklistScore(answers))
