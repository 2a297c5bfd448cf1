"""One place for failures: log them, tell the user plainly, never a traceback in chat."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError

from bot.core.context import BotContext
from bot.core.telegram_io import answer, send
from storage.members import member_by_user
from storage.models import Member

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update: %r", error, exc_info=error)
        return
    if isinstance(error, Forbidden) and update.effective_user is not None:
        await mark_inactive(context, update.effective_user.id)
        return
    log.error("error while handling update %s", update.update_id, exc_info=error)
    chat = update.effective_chat
    try:
        # A press is answered in any chat, or its button keeps spinning.
        await answer(update, context.services.render("member", "error_short"))
        if chat is not None and chat.type == ChatType.PRIVATE:
            await send(update, context.services.render("member", "error"))
    except TelegramError as exc:
        log.warning("could not tell the user about the error: %s", exc)


async def mark_inactive(context: BotContext, telegram_user_id: int) -> None:
    """The person blocked the bot: stop sending to them until they write again."""
    async with context.services.db.session() as session:
        member: Member | None = await member_by_user(session, telegram_user_id)
        if member is not None and member.active:
            member.active = False
            session.add(member)
            await session.commit()
            log.info("member %s blocked the bot; marked inactive", member.id)
