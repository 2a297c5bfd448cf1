"""Placeholder: the analysis after each stored report is being written."""

from telegram import Bot

from bot.services import Services


async def after_report(services: Services, bot: Bot, report_id: int) -> None:
    """Called in the background once a report is committed."""
    return None
