"""The audit log: append-only rows of who did what to which object.

Callers record in the same transaction as the change itself, so a change and its audit
row commit together or not at all. ``details`` carries counts, keys and choices only,
never free text from reports or anyone's name. Nothing here updates a row; only
``purge_before`` (the gallring of the audit log itself) deletes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditEvent

MEMBER, SHELL, SYSTEM = "member", "shell", "system"


async def record(session: AsyncSession, action: str, *, now: datetime,
                 actor_member_id: int | None = None, actor: str | None = None,
                 object_kind: str = "", object_id: object = None,
                 details: dict[str, Any] | None = None) -> AuditEvent:
    """Add one audit row (flushed, not committed: the caller's change commits it).

    ``actor`` defaults to ``member`` when a member id is given, else ``system``.
    """
    event = AuditEvent(
        at=now, action=action,
        actor=actor or (MEMBER if actor_member_id is not None else SYSTEM),
        actor_member_id=actor_member_id, object_kind=object_kind,
        object_id=None if object_id is None else str(object_id)[:64],
        details=dict(details or {}),
    )
    session.add(event)
    await session.flush()
    return event


async def events(session: AsyncSession, *, since: datetime | None = None,
                 until: datetime | None = None, offset: int = 0,
                 limit: int | None = None, newest_first: bool = True) -> list[AuditEvent]:
    query = select(AuditEvent)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    if until is not None:
        query = query.where(col(AuditEvent.at) < until)
    order = (col(AuditEvent.at).desc(), col(AuditEvent.id).desc()) if newest_first \
        else (col(AuditEvent.at), col(AuditEvent.id))
    query = query.order_by(*order).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.exec(query)).all())


async def count(session: AsyncSession) -> int:
    return (await session.exec(select(func.count()).select_from(AuditEvent))).one()


async def purge_before(session: AsyncSession, cutoff: datetime) -> int:
    """The gallring of the audit log: rows older than ``cutoff`` go. Returns how many."""
    result = await session.exec(delete(AuditEvent).where(col(AuditEvent.at) < cutoff))
    return result.rowcount or 0
