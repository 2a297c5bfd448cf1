"""The last handlers of the default group: whatever no real handler took.

``build_fallback_handlers()`` is registered after every other handler, so any
real handler wins (in one group only the first matching handler runs). The
gatekeeper (bot/core/access.py) has already dealt with strangers and edited
messages; here a member in a private chat still gets an answer for anything:
a button no handler claims, an unknown command, and every kind of message the
bot cannot use (photo, voice note, sticker, file, video, contact, poll, dice…).
Nothing of such a message is kept, and an open dialog stays at its step.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, MessageHandler, filters

from bot.core.context import BotContext
from bot.core.telegram_io import answer, send


async def unknown_button(update: Update, context: BotContext) -> None:
    """Any button no handler claims (old bot version, forged data) still stops spinning."""
    await answer(update, context.services.render("report", "ended"))


async def unknown_command(update: Update, context: BotContext) -> None:
    await send(update, context.services.render("onboarding", "unknown_command"))


async def not_usable(update: Update, context: BotContext) -> None:
    """Media and the like: say what the bot takes; the message itself is not read."""
    await send(update, context.services.render("fallbacks", "only_text"))


# New messages only (edits stop at the gatekeeper anyway), and no service messages
# such as a pinned message or a changed auto-delete timer: nobody wrote those to us.
# Text and shared positions have their own handlers that always answer.
NOT_USABLE = (filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
              & ~filters.StatusUpdate.ALL & ~filters.TEXT & ~filters.LOCATION)


def build_fallback_handlers() -> list[BaseHandler]:
    return [
        CallbackQueryHandler(unknown_button),
        MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, unknown_command),
        MessageHandler(NOT_USABLE, not_usable),
    ]
