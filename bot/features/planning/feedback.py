"""Återkoppling: a thank-you to the people who reported from an insats's place.

The thank-you says what is done, where, when and by which organisation: no names,
nothing of anyone's report. It goes through the outbox (bot.outbound.delivery.send_once) keyed
by the insats, so each reporter gets it once, also when it is pushed again; a member
who blocked the bot is marked inactive there. ``/aterkoppling av|pa`` turns it off/on.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.core.services import Services
from bot.core.telegram_io import send
from bot.features.planning.common import TEMPLATE, insats_view
from bot.outbound.delivery import send_once
from est import planning as plan
from storage import planning as store
from storage.models import Insats, Member

OUTBOX_KIND = "feedback"  # the outbox key is the insats's id


async def send_feedback(services: Services, bot, insats_id: int) -> int:
    """Thank the reporters of the insats's place; returns how many were sent now.

    Each reporter once, whatever the number of reports; only non-withdrawn reports of
    the last FEEDBACK_WINDOW; never to paused, inactive or opted-out members, nor to
    the coordinator who registered it (est.planning.feedback_recipients).
    """
    now = services.now()
    async with services.db.session() as session:
        insats = await session.get(Insats, insats_id)
        if insats is None or insats.place_key is None or insats.status == plan.CANCELLED:
            return 0
        candidates = await store.feedback_candidates(
            session, area_key=insats.area_key, place_key=insats.place_key,
            since=now - plan.FEEDBACK_WINDOW)
        recipients = plan.feedback_recipients(candidates, now=now,
                                              exclude_member_id=insats.created_by_member_id)
        chat_ids = [(await session.get(Member, member_id)).telegram_user_id
                    for member_id in recipients]
        text = services.render(TEMPLATE, "feedback", i=insats_view(services, insats))
    sent = 0
    for chat_id in chat_ids:
        if await send_once(services, bot, kind=OUTBOX_KIND, key=str(insats_id),
                           chat_id=chat_id, text=text) is not None:
            sent += 1
    return sent


async def feedback_command(update: Update, context: BotContext) -> None:
    """``/aterkoppling``, ``/aterkoppling av``, ``/aterkoppling pa``."""
    services, actor = context.services, context.member
    choice = (context.args[0].lower() if context.args else "")
    async with services.db.session() as session:
        if choice in ("av", "off", "nej"):
            await store.set_feedback_opt_out(session, actor.member_id, True)
            await session.commit()
            await send(update, services.render(TEMPLATE, "feedback_off"))
            return
        if choice in ("pa", "på", "on", "ja"):
            await store.set_feedback_opt_out(session, actor.member_id, False)
            await session.commit()
            await send(update, services.render(TEMPLATE, "feedback_on"))
            return
        member = await session.get(Member, actor.member_id)
    await send(update, services.render(TEMPLATE, "feedback_status",
                                       opted_out=member.feedback_opt_out))


def build_feedback_handlers() -> list[BaseHandler]:
    return [CommandHandler("aterkoppling", feedback_command, filters=filters.ChatType.PRIVATE)]
