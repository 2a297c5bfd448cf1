"""Where dialog state is stored: one row per conversation, written on every step."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Dialog

OPEN, DONE, CANCELLED = "open", "done", "cancelled"
# Enough to recognise any redelivery: Telegram redelivers only what was not confirmed.
HANDLED_KEEP = 32


async def open_dialog(session: AsyncSession, *, kind: str, replaces: Iterable[str],
                      member_id: int, chat_id: int, step: str, data: dict[str, Any],
                      now: datetime, update_id: int | None) -> Dialog:
    """Start a dialog; the member's open dialogs of the ``replaces`` kinds in this chat end."""
    await session.exec(
        update(Dialog)
        .where(col(Dialog.member_id) == member_id, col(Dialog.chat_id) == chat_id,
               col(Dialog.status) == OPEN, col(Dialog.kind).in_(list(replaces)))
        .values(status=CANCELLED, updated_at=now)
    )
    row = Dialog(kind=kind, member_id=member_id, chat_id=chat_id, step=step, data=data,
                 handled_update_ids=[update_id] if update_id is not None else [],
                 created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    return row


async def lock_dialog(session: AsyncSession, dialog_id: int) -> Dialog | None:
    """A dialog for change; row-locked on PostgreSQL."""
    return (
        await session.exec(select(Dialog).where(Dialog.id == dialog_id).with_for_update())
    ).first()


async def open_in_chat(session: AsyncSession, member_id: int, chat_id: int,
                       limit: int = 10) -> list[Dialog]:
    """The member's open dialogs in this chat, the one that asked last first."""
    return list(
        await session.exec(
            select(Dialog)
            .where(Dialog.member_id == member_id, Dialog.chat_id == chat_id,
                   Dialog.status == OPEN)
            .order_by(col(Dialog.updated_at).desc(), col(Dialog.id).desc())
            .limit(limit)
            .with_for_update()
        )
    )


async def open_by_message(session: AsyncSession, chat_id: int, message_id: int) -> Dialog | None:
    """The open dialog a message (e.g. a ForceReply prompt in a group) belongs to."""
    return (
        await session.exec(
            select(Dialog)
            .where(Dialog.chat_id == chat_id, Dialog.message_id == message_id,
                   Dialog.status == OPEN)
            .with_for_update()
        )
    ).first()


async def started_by(session: AsyncSession, member_id: int, chat_id: int,
                     update_id: int) -> Dialog | None:
    """The dialog a (replayed) command already started, if any."""
    recent = await session.exec(
        select(Dialog)
        .where(Dialog.member_id == member_id, Dialog.chat_id == chat_id)
        .order_by(col(Dialog.id).desc())
        .limit(5)
    )
    return next((row for row in recent if update_id in (row.handled_update_ids or [])), None)


def handled(row: Dialog, update_id: int) -> bool:
    return update_id in (row.handled_update_ids or [])


def record(row: Dialog, *, step: str, data: dict[str, Any], update_id: int | None,
           now: datetime, status: str | None = None) -> None:
    """Save one applied step.

    The data may have been changed in place (and autoflushed meanwhile), so the
    JSON column is flagged as changed rather than compared.
    """
    row.step, row.data, row.updated_at = step, dict(data), now
    flag_modified(row, "data")
    if update_id is not None and not handled(row, update_id):
        row.handled_update_ids = [*(row.handled_update_ids or []), update_id][-HANDLED_KEEP:]
    if status is not None:
        row.status = status


async def bind_message(session: AsyncSession, dialog_id: int, message_id: int) -> None:
    await session.exec(
        update(Dialog).where(col(Dialog.id) == dialog_id).values(message_id=message_id)
    )
