"""One place for failures: log them, tell the user plainly, never a traceback in chat."""

from __future__ import annotations

import logging
import traceback

from telegram import Update
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError

from bot.core.context import BotContext
from bot.core.telegram_io import answer, send
from storage.members import member_by_user
from storage.models import Member

log = logging.getLogger(__name__)


def describe_error(error: BaseException) -> str:
    """An exception for the log: its type and where it happened, never its message.

    Messages may quote what people typed (a library citing a value, SQL parameters); the
    frames only hold source lines. Telegram's own error texts are kept: they name the
    problem, never the message text.
    """
    parts, seen = [], error
    while seen is not None and len(parts) < 4:
        name = f"{type(seen).__module__}.{type(seen).__qualname__}"
        if isinstance(seen, TelegramError):
            name += f": {seen.message}"
        parts.append(name + "\n" + "".join(traceback.format_tb(seen.__traceback__)))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts).rstrip()


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update: %s", describe_error(error))
        return
    if isinstance(error, Forbidden) and update.effective_user is not None:
        await mark_inactive(context, update.effective_user.id)
        return
    log.error("error while handling update %s: %s", update.update_id, describe_error(error))
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
