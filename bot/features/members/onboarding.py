"""Joining: ``/start <token>``, admins' ``/inbjudan``, and help texts."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.commands_menu import publish_member_commands
from bot.core.context import BotContext
from bot.core.telegram_io import send
from storage.members import InviteProblem, member_by_user, redeem_invite


async def start(update: Update, context: BotContext) -> None:
    services = context.services
    token = context.args[0] if context.args else None
    user = update.effective_user
    if token:
        async with services.db.session() as session:
            try:
                await redeem_invite(session, token=token, telegram_user_id=user.id,
                                    first_name=user.first_name, now=services.now())
                await session.commit()
            except InviteProblem as problem:
                await session.rollback()
                if problem.role is not None:
                    await send(update, services.render(
                        "onboarding", "already_member", role=problem.role,
                        org_name=services.config.organisation_name(problem.org_key)))
                    return
                if context.actor is None:
                    await send(update, services.render("onboarding", "invite_problem",
                                                       reason=problem.reason))
                    return
            member = await member_by_user(session, user.id)
        org = services.config.organisation(member.org_key)
        await publish_member_commands(context.bot, member.telegram_user_id, member.role)
        await send(update, services.render("onboarding", "welcome", name=member.first_name,
                                           role=member.role, org_name=org.name if org else "",
                                           returning=context.actor is not None))
        return
    actor = context.actor
    if actor is None:
        # A bare /start from a stranger: the gatekeeper refuses it before here;
        # should that ever change, still the refusal and no traceback.
        await send(update, services.render("onboarding", "refusal"))
        return
    org = services.config.organisation(actor.org_key)
    await send(update, services.render("onboarding", "welcome", name=actor.first_name,
                                       role=actor.role, org_name=org.name if org else "",
                                       returning=True))


async def help_command(update: Update, context: BotContext) -> None:
    actor = context.member
    org = context.services.config.organisation(actor.org_key)
    await send(update, context.services.render(
        "onboarding", "help", name=actor.first_name, role=actor.role,
        org_name=org.name if org else "", paused=actor.paused))


def build_onboarding_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", start, filters=private),
        CommandHandler(["hjalp", "help"], help_command, filters=private),
    ]
