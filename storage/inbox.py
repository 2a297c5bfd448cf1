"""The durable inbox: Telegram updates are stored here before being confirmed.

python-telegram-bot confirms an update to Telegram as soon as it has fetched
it. Writing each update here first, and erasing it only after it has been
handled, means a crash at any moment loses nothing: unhandled rows are
replayed at start.

Update ids are no clock: after a week without updates Telegram picks the next id at
random, possibly below ids still stored here. So order and offset follow arrival
(``received_at``), and a repeat is recognised by its id being stored, never by
comparing ids. Within one batch the ids are consecutive, so there id order is arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import InboxUpdate


@dataclass(frozen=True)
class Batch:
    """The newest getUpdates batch stored: its highest id and when it arrived."""

    last_update_id: int
    received_at: datetime

    @property
    def offset(self) -> int:
        """The getUpdates offset that confirms this batch (and every earlier one)."""
        return self.last_update_id + 1


class Inbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def store(self, updates: list[tuple[int, dict[str, Any]]], now: datetime) -> list[int]:
        """Store updates not seen before; returns the ids that are new."""
        if not updates:
            return []
        ids = [update_id for update_id, _ in updates]
        async with self.db.session() as session:
            known = set(
                (
                    await session.exec(
                        select(InboxUpdate.update_id).where(col(InboxUpdate.update_id).in_(ids))
                    )
                ).all()
            )
            new = [(uid, payload) for uid, payload in updates if uid not in known]
            for uid, payload in new:
                session.add(InboxUpdate(update_id=uid, payload=payload, received_at=now))
            await session.commit()
        return [uid for uid, _ in new]

    async def pending(self) -> list[tuple[int, dict[str, Any]]]:
        """Stored but not yet handled, in the order they arrived."""
        async with self.db.session() as session:
            rows = await session.exec(
                select(InboxUpdate)
                .where(col(InboxUpdate.done_at).is_(None))
                .order_by(col(InboxUpdate.received_at), col(InboxUpdate.update_id))
            )
            return [(row.update_id, row.payload or {}) for row in rows]

    async def mark_done(self, update_id: int, now: datetime) -> None:
        """Handled: erase the payload (the inbox is no archive of what people sent)."""
        async with self.db.session() as session:
            await session.exec(
                update(InboxUpdate)
                .where(col(InboxUpdate.update_id) == update_id)
                .values(done_at=now, payload=None)
            )
            await session.commit()

    async def prune(self, done_before: datetime) -> int:
        """Forget handled updates; Telegram has long forgotten them too."""
        async with self.db.session() as session:
            result = await session.exec(
                delete(InboxUpdate).where(col(InboxUpdate.done_at) < done_before)
            )
            await session.commit()
            return result.rowcount

    async def newest_batch(self) -> Batch | None:
        """The batch received last (not the one with the highest ids), if any is kept."""
        async with self.db.session() as session:
            row = (
                await session.exec(
                    select(InboxUpdate.update_id, InboxUpdate.received_at)
                    .order_by(col(InboxUpdate.received_at).desc(),
                              col(InboxUpdate.update_id).desc())
                    .limit(1)
                )
            ).first()
        return None if row is None else Batch(last_update_id=row[0], received_at=row[1])

    async def next_offset(self, received_since: datetime | None = None) -> int | None:
        """The getUpdates offset that confirms the newest stored batch.

        None when nothing is stored, or the newest batch arrived before
        ``received_since``: so long after, the ids may have restarted lower, and an
        offset could confirm (drop) updates never seen. Without an offset Telegram
        sends what is unconfirmed, and ``store`` recognises repeats.
        """
        batch = await self.newest_batch()
        if batch is None or (received_since is not None and batch.received_at < received_since):
            return None
        return batch.offset

    async def unfinished_count(self) -> int:
        async with self.db.session() as session:
            return (
                await session.exec(
                    select(func.count()).where(col(InboxUpdate.done_at).is_(None))
                )
            ).one()
