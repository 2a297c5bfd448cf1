"""The buttons of alert posts ("Höj till …", "Behåll"), routed by the dialog engine.

Alert posts are no dialogs: they are shared by every coordinator group and decided
once (``bot.alerts``). The engine parses their ``al:<alert id>:<action>`` data with
its strict grammar and hands the press here.
"""

from __future__ import annotations

from telegram import Update

from bot import alerts
from bot.context import BotContext
from bot.dialogs.callbacks import Press


async def on_alert_press(update: Update, context: BotContext, press: Press) -> None:
    """``bot.alerts.on_alert_button`` checks the press again and decides it."""
    await alerts.on_alert_button(update, context)
