"""Small helpers around Telegram output: keyboards, callback data, safe edits."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

log = logging.getLogger(__name__)

CALLBACK_DATA_MAX_BYTES = 64

Button = tuple[str, str]  # (label, callback_data)


def callback(*parts: object) -> str:
    """Join parts into callback_data, refusing anything Telegram would reject."""
    data = ":".join(str(part) for part in parts)
    if len(data.encode()) > CALLBACK_DATA_MAX_BYTES:
        raise ValueError(f"callback_data over 64 bytes: {data!r}")
    return data


def keyboard(rows: Iterable[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def in_rows(buttons: Sequence[Button], per_row: int) -> list[list[Button]]:
    return [list(buttons[i:i + per_row]) for i in range(0, len(buttons), per_row)]


async def send(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    """Answer in the chat the update came from."""
    return await update.effective_chat.send_message(
        text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
    )


async def show(
    update: Update, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | bool:
    """Edit the pressed message in place, or send a new one for a typed message."""
    query = update.callback_query
    if query is None or query.message is None:
        return await send(update, text, markup)
    try:
        return await query.edit_message_text(
            text, parse_mode=ParseMode.HTML, reply_markup=markup, disable_web_page_preview=True
        )
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        raise


async def answer(update: Update, text: str | None = None, alert: bool = False) -> None:
    """Stop the button's spinner; a query that is too old is not an error for us."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest as exc:
        log.info("callback query could not be answered: %s", exc)


async def delete_quietly(message: Message | None) -> bool:
    """Delete an incoming message; failing is fine (too old, already gone)."""
    if message is None:
        return False
    try:
        return await message.delete()
    except (BadRequest, Forbidden) as exc:
        log.info("could not delete message %s: %s", message.message_id, exc)
        return False


async def drop_keyboard(bot, chat_id: int, message_id: int | None) -> None:
    """Remove the buttons of an earlier dialog message so only one step is live."""
    if message_id is None:
        return
    try:
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                            reply_markup=None)
    except BadRequest as exc:
        log.debug("keyboard already gone on %s: %s", message_id, exc)
