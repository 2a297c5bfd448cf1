"""The durable outbox: scheduled posts and one-off pushes, each delivered once.

A ``Broadcast`` is one post for one period (``kind`` + ``period``, unique): whoever
inserts the row first owns the post, so two processes, a restart or a repeated job can
never send it twice. Its ``Delivery`` rows (unique per broadcast and chat) are written
in the same transaction, before anything is sent, and marked one by one as Telegram
accepts the messages. A restart resumes the broadcasts still ``sending``.

Delivery states: ``pending`` (to send), ``sending`` (an attempt is in flight; while in
this state ``sent_at`` holds when the attempt began, a lease that another process
respects until it is ``LEASE`` old), ``sent``, ``failed`` (given up) and ``blocked``
(403: the recipient blocked or removed the bot). ``message_ids`` grows with every
accepted part of a post, so a resumed attempt continues with the next part.

Recipients are decided in est.recipients from plain data; ``people`` and ``chats`` fetch
the candidates (members and registered groups) in that form.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.recipients import Chat, Person, Recipient
from storage.models import Broadcast, Delivery, Group, Member

# Broadcast status
SENDING, DONE, SKIPPED, STALE = "sending", "done", "skipped", "stale"
# Delivery status (SENDING is shared)
PENDING, SENT, FAILED, BLOCKED = "pending", "sent", "failed", "blocked"

# How long an attempt in flight is respected before another process may take it over.
# Longer than any send can take with the rate limiter's waits, short enough that a
# crashed process's recipient still gets the post the same evening.
LEASE = timedelta(minutes=10)
# Transient failures (429 after the limiter's retries, network, 5xx) are retried this
# many times in all, by the next resume, before the delivery is given up.
MAX_ATTEMPTS = 5

KIND_MAX, PERIOD_MAX, ERROR_MAX = 24, 32, 300

# Recipient (est.recipients): (chat_id, member_id, group_id); any such tuple will do.


def _check_key(kind: str, period: str) -> None:
    if not kind or len(kind) > KIND_MAX or not period or len(period) > PERIOD_MAX:
        raise ValueError(f"outbox key too long or empty: {kind!r}/{period!r}")


async def find(session: AsyncSession, kind: str, period: str) -> Broadcast | None:
    query = select(Broadcast).where(Broadcast.kind == kind, Broadcast.period == period)
    return (await session.exec(query)).first()


async def claim(
    session: AsyncSession, *, kind: str, period: str, scheduled_for: datetime,
    payload: dict[str, Any], now: datetime, status: str = SENDING, late: bool = False,
) -> Broadcast | None:
    """Insert the (kind, period) row; None when someone else already has it.

    The row is flushed, not committed: the caller adds the deliveries in the same
    transaction and commits before sending anything. On a conflict the session is
    rolled back (it held nothing else).
    """
    _check_key(kind, period)
    broadcast = Broadcast(kind=kind, period=period, scheduled_for=scheduled_for,
                          created_at=now, status=status, late=late, payload=payload)
    session.add(broadcast)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        return None
    return broadcast


async def get_or_create(
    session: AsyncSession, *, kind: str, period: str, now: datetime, status: str = DONE,
) -> Broadcast:
    """The (kind, period) row, created (and committed) if missing; for one-off pushes."""
    existing = await find(session, kind, period)
    if existing is not None:
        return existing
    claimed = await claim(session, kind=kind, period=period, scheduled_for=now,
                          payload={}, now=now, status=status)
    if claimed is not None:
        await session.commit()
        return claimed
    existing = await find(session, kind, period)  # another process inserted it just now
    if existing is None:  # pragma: no cover - a row cannot vanish
        raise RuntimeError(f"broadcast {kind}/{period} neither inserted nor found")
    return existing


async def add_deliveries(
    session: AsyncSession, broadcast_id: int, recipients: Iterable[Recipient],
) -> list[Delivery]:
    """One pending row per new chat; chats already recorded are left as they are."""
    known = set((await session.exec(
        select(Delivery.chat_id).where(Delivery.broadcast_id == broadcast_id))).all())
    added = []
    for chat_id, member_id, group_id in recipients:
        if chat_id in known:
            continue
        known.add(chat_id)
        delivery = Delivery(broadcast_id=broadcast_id, chat_id=chat_id, member_id=member_id,
                            group_id=group_id, status=PENDING)
        session.add(delivery)
        added.append(delivery)
    await session.flush()
    return added


async def claim_delivery(
    session: AsyncSession, *, broadcast_id: int, chat_id: int, now: datetime,
    member_id: int | None = None, group_id: int | None = None,
) -> Delivery | None:
    """A one-off push: insert the delivery already leased (``sending``); None if it exists.

    Commits on success; rolls back on conflict.
    """
    delivery = Delivery(broadcast_id=broadcast_id, chat_id=chat_id, member_id=member_id,
                        group_id=group_id, status=SENDING, attempts=1, sent_at=now)
    session.add(delivery)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return delivery


def _takeable(now: datetime):
    return or_(
        col(Delivery.status) == PENDING,
        and_(col(Delivery.status) == SENDING, col(Delivery.sent_at) < now - LEASE),
    )


async def to_send(session: AsyncSession, broadcast_id: int, now: datetime) -> list[Delivery]:
    """Deliveries of a broadcast that nobody is sending: pending, or with an expired lease."""
    query = (select(Delivery)
             .where(Delivery.broadcast_id == broadcast_id, _takeable(now))
             .order_by(col(Delivery.id)))
    return list((await session.exec(query)).all())


async def lease(session: AsyncSession, delivery_id: int, now: datetime) -> Delivery | None:
    """Take one delivery for an attempt (atomic; commits). None if another has it or it is done."""
    result = await session.exec(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id, _takeable(now))
        .values(status=SENDING, sent_at=now, attempts=col(Delivery.attempts) + 1)
    )
    await session.commit()
    if result.rowcount != 1:
        return None
    return await session.get(Delivery, delivery_id, populate_existing=True)


async def _set(session: AsyncSession, delivery_id: int, **values: Any) -> None:
    await session.exec(update(Delivery).where(col(Delivery.id) == delivery_id).values(**values))
    await session.commit()


async def record_part(session: AsyncSession, delivery_id: int, message_ids: list[int]) -> None:
    """One more part of the post was accepted: remember it before sending the next."""
    await _set(session, delivery_id, message_ids=list(message_ids))


async def mark_sent(session: AsyncSession, delivery_id: int, message_ids: list[int],
                    now: datetime) -> None:
    await _set(session, delivery_id, status=SENT, message_ids=list(message_ids), sent_at=now,
               last_error=None)


async def mark_failed(session: AsyncSession, delivery: Delivery, error: str, *,
                      retry: bool) -> str:
    """A failed attempt: back to pending (to be retried) or failed for good. Returns the status."""
    status = PENDING if retry and delivery.attempts < MAX_ATTEMPTS else FAILED
    await _set(session, delivery.id, status=status, sent_at=None, last_error=error[:ERROR_MAX])
    return status


async def mark_blocked(session: AsyncSession, delivery_id: int, error: str) -> None:
    await _set(session, delivery_id, status=BLOCKED, sent_at=None, last_error=error[:ERROR_MAX])


async def move_delivery(session: AsyncSession, delivery_id: int, new_chat_id: int) -> bool:
    """The chat became a supergroup: deliver to its new id. False if that id is already a row."""
    try:
        await _set(session, delivery_id, chat_id=new_chat_id)
    except IntegrityError:
        await session.rollback()
        return False
    return True


async def finish(session: AsyncSession, broadcast_id: int) -> bool:
    """Mark the broadcast done once no delivery is pending or in flight (commits)."""
    open_ = (await session.exec(
        select(Delivery.id).where(Delivery.broadcast_id == broadcast_id,
                                  col(Delivery.status).in_([PENDING, SENDING])).limit(1)
    )).first()
    if open_ is not None:
        return False
    await session.exec(update(Broadcast)
                       .where(col(Broadcast.id) == broadcast_id, Broadcast.status == SENDING)
                       .values(status=DONE))
    await session.commit()
    return True


async def unfinished(session: AsyncSession) -> list[Broadcast]:
    """Broadcasts still sending (interrupted by a restart, or with deliveries to retry)."""
    query = select(Broadcast).where(Broadcast.status == SENDING).order_by(col(Broadcast.id))
    return list((await session.exec(query)).all())


async def deliveries(session: AsyncSession, broadcast_id: int) -> list[Delivery]:
    query = select(Delivery).where(Delivery.broadcast_id == broadcast_id).order_by(
        col(Delivery.id))
    return list((await session.exec(query)).all())


async def latest(session: AsyncSession, kind: str, *, not_after: datetime,
                 since: datetime | None = None) -> Broadcast | None:
    """The newest broadcast of a kind scheduled at or before ``not_after``."""
    query = select(Broadcast).where(Broadcast.kind == kind,
                                    col(Broadcast.scheduled_for) <= not_after)
    if since is not None:
        query = query.where(col(Broadcast.scheduled_for) >= since)
    query = query.order_by(col(Broadcast.scheduled_for).desc(), col(Broadcast.id).desc())
    return (await session.exec(query.limit(1))).first()


async def sent_member_ids(session: AsyncSession, broadcast_id: int) -> list[int]:
    """Members a broadcast reached (private deliveries accepted by Telegram)."""
    query = select(Delivery.member_id).where(
        Delivery.broadcast_id == broadcast_id, Delivery.status == SENT,
        col(Delivery.member_id).is_not(None))
    return [m for m in (await session.exec(query)).all() if m is not None]


# ---------------------------------------------------------------- recipient candidates

async def people(session: AsyncSession,
                 member_ids: Iterable[int] | None = None) -> list[Person]:
    """Members (all, or those of ``member_ids``) as est.recipients sees them, by id."""
    query = select(Member)
    if member_ids is not None:
        query = query.where(col(Member.id).in_(list(member_ids)))
    rows = (await session.exec(query.order_by(col(Member.id)))).all()
    return [Person(member_id=m.id, chat_id=m.telegram_user_id, role=m.role,
                   org_key=m.org_key, active=m.active, paused=m.paused) for m in rows]


async def chats(session: AsyncSession) -> list[Chat]:
    """Every registered group, active or not, by id."""
    rows = (await session.exec(select(Group).order_by(col(Group.id)))).all()
    return [Chat(group_id=g.id, chat_id=g.chat_id, kind=g.kind, active=g.active) for g in rows]
