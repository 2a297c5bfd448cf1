"""The durable inbox: Telegram updates are stored here before being confirmed.

python-telegram-bot confirms an update to Telegram as soon as it has fetched
it. Writing each update here first, and erasing it only after it has been
handled, means a crash at any moment loses nothing: unhandled rows are
replayed at start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import InboxUpdate


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
        """Stored but not yet handled, oldest first."""
        async with self.db.session() as session:
            rows = await session.exec(
                select(InboxUpdate)
                .where(col(InboxUpdate.done_at).is_(None))
                .order_by(col(InboxUpdate.update_id))
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

    async def next_offset(self) -> int | None:
        """The getUpdates offset that confirms everything already stored."""
        async with self.db.session() as session:
            highest = (await session.exec(select(func.max(InboxUpdate.update_id)))).one()
        return None if highest is None else highest + 1

    async def unfinished_count(self) -> int:
        async with self.db.session() as session:
            return (
                await session.exec(
                    select(func.count()).where(col(InboxUpdate.done_at).is_(None))
                )
            ).one()
