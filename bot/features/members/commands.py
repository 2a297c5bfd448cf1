"""A member's own switches and data: ``/paus``, ``/aterkom``, ``/mina_uppgifter``."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.core.telegram_io import send
from messages.labels import ROLE_LABELS
from storage.models import Member, Report


async def _set_paused(context: BotContext, paused: bool) -> None:
    async with context.services.db.session() as session:
        member = await session.get(Member, context.member.member_id)
        member.paused = paused
        session.add(member)
        await session.commit()


async def pause(update: Update, context: BotContext) -> None:
    await _set_paused(context, True)
    await send(update, context.services.render("member", "paused"))


async def resume(update: Update, context: BotContext) -> None:
    await _set_paused(context, False)
    await send(update, context.services.render("member", "resumed"))


async def my_data(update: Update, context: BotContext) -> None:
    services = context.services
    async with services.db.session() as session:
        member = await session.get(Member, context.member.member_id)
        total, withdrawn, with_text, first = (
            await session.exec(
                select(func.count(), func.count(col(Report.withdrawn_at)),
                       func.count(col(Report.text)), func.min(Report.received_at))
                .where(Report.member_id == member.id)
            )
        ).one()
    await send(update, services.render(
        "member", "my_data", member=member,
        org_name=services.config.organisation_name(member.org_key),
        role_name=ROLE_LABELS[member.role], report_count=total, withdrawn_count=withdrawn,
        with_text=with_text, first_report=first, retention=services.config.retention))


def build_member_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("paus", pause, filters=private),
        CommandHandler("aterkom", resume, filters=private),
        CommandHandler("mina_uppgifter", my_data, filters=private),
    ]
