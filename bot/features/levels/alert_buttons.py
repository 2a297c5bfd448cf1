"""The buttons of alert posts ("Höj till …", "Behåll"), routed by the dialog engine.

Alert posts are no dialogs: they are shared by every coordinator group and decided
once (``bot.features.levels.alerts``). The engine parses their ``al:<alert id>:<action>`` data with
its strict grammar and hands the press here. A press counts only on the alert's own
post (an ``alert_messages`` row): the same data forged on any other message is stale.
"""

from __future__ import annotations

from sqlmodel import select
from telegram import Update

from bot.core.context import BotContext
from bot.core.telegram_io import answer
from bot.dialogs.callbacks import Press
from bot.features.levels import alerts
from storage.models import AlertMessage


async def on_alert_press(update: Update, context: BotContext, press: Press) -> None:
    """``bot.features.levels.alerts.on_alert_button`` checks the press again and decides it."""
    message = update.callback_query.message
    posted = None
    if message is not None:
        async with context.services.db.session() as session:
            posted = (await session.exec(
                select(AlertMessage).where(AlertMessage.alert_id == press.id,
                                           AlertMessage.chat_id == message.chat.id,
                                           AlertMessage.message_id == message.message_id)
            )).first()
    if posted is None:
        await answer(update, context.services.render("dialogs", "ended"))
        return
    await alerts.on_alert_button(update, context)
