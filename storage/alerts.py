"""Alerts put to the coordinator groups, and where each was posted.

Kinds: ``suggestion`` (the analysis suggests a higher level; status open → raised | kept,
or closed when the level was changed another way) and ``urgent`` (a report in an urgent
category; status info, nothing to decide).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.models import Alert, AlertMessage

SUGGESTION, URGENT = "suggestion", "urgent"
OPEN, RAISED, KEPT, CLOSED, INFO = "open", "raised", "kept", "closed", "info"
DECIDED = (RAISED, KEPT)


async def open_suggestion(session: AsyncSession, area_key: str, *,
                          lock: bool = False) -> Alert | None:
    """The area's open suggestion alert; there is at most one."""
    query = (select(Alert)
             .where(Alert.area_key == area_key, Alert.kind == SUGGESTION, Alert.status == OPEN)
             .order_by(col(Alert.id).desc()).limit(1))
    if lock:
        query = query.with_for_update()
    return (await session.exec(query)).first()


async def lock_alert(session: AsyncSession, alert_id: int) -> Alert | None:
    """The alert, locked for a decision (PostgreSQL; SQLite serialises writers anyway)."""
    query = select(Alert).where(Alert.id == alert_id).with_for_update()
    return (await session.exec(query)).first()


async def recently_decided(session: AsyncSession, area_key: str, level: str,
                           since: datetime) -> Alert | None:
    """A suggestion of this level for the area decided at or after ``since`` (the cooldown)."""
    query = (select(Alert)
             .where(Alert.area_key == area_key, Alert.kind == SUGGESTION, Alert.level == level,
                    col(Alert.status).in_(DECIDED), col(Alert.decided_at) >= since)
             .order_by(col(Alert.decided_at).desc()).limit(1))
    return (await session.exec(query)).first()


async def create_alert(session: AsyncSession, *, area_key: str, kind: str, now: datetime,
                       level: str | None = None, score: float | None = None,
                       reasons: Iterable[str] = (), report_ids: Iterable[int] = (),
                       status: str = OPEN) -> Alert:
    alert = Alert(area_key=area_key, kind=kind, level=level, score=score,
                  reasons=list(reasons), report_ids=list(report_ids), status=status,
                  created_at=now, updated_at=now)
    session.add(alert)
    await session.flush()
    return alert


def update_suggestion(alert: Alert, *, level: str, score: float, reasons: list[str],
                      report_ids: Iterable[int], now: datetime) -> bool:
    """Refresh an open alert with the latest analysis; True when anything shown changed."""
    ids = sorted(set(alert.report_ids) | set(report_ids))
    changed = (alert.level, alert.reasons) != (level, reasons)
    # JSON columns are replaced, never mutated in place, so the ORM sees the change.
    alert.level, alert.score, alert.reasons, alert.report_ids = level, score, list(reasons), ids
    alert.updated_at = now
    return changed


async def decide(session: AsyncSession, alert: Alert, *, status: str, member_id: int | None,
                 now: datetime) -> None:
    """Close an alert as raised, kept or closed; the decision goes to the audit log."""
    alert.status, alert.decided_by_member_id, alert.decided_at = status, member_id, now
    alert.updated_at = now
    session.add(alert)
    await audit.record(session, "alert.decided", now=now, actor_member_id=member_id,
                       object_kind="alert", object_id=alert.id,
                       details={"area": alert.area_key, "decision": status,
                                "level": alert.level})


async def add_message(session: AsyncSession, alert_id: int, chat_id: int,
                      message_id: int) -> AlertMessage:
    row = AlertMessage(alert_id=alert_id, chat_id=chat_id, message_id=message_id)
    session.add(row)
    await session.flush()
    return row


async def messages_of(session: AsyncSession, alert_id: int) -> list[AlertMessage]:
    query = (select(AlertMessage).where(AlertMessage.alert_id == alert_id)
             .order_by(col(AlertMessage.id)))
    return list((await session.exec(query)).all())


async def alerted_urgent_report_ids(session: AsyncSession, area_key: str,
                                    since: datetime) -> set[int]:
    """Reports that already raised an urgent alert (an edited report is not alerted twice)."""
    query = select(Alert.report_ids).where(Alert.area_key == area_key, Alert.kind == URGENT,
                                           col(Alert.created_at) >= since)
    return {report_id for ids in await session.exec(query) for report_id in ids or []}


async def open_suggestions(session: AsyncSession, area_key: str) -> list[Alert]:
    query = (select(Alert)
             .where(Alert.area_key == area_key, Alert.kind == SUGGESTION, Alert.status == OPEN)
             .order_by(col(Alert.id)))
    return list((await session.exec(query)).all())
