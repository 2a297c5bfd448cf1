"""Joining: ``/start <token>``, admins' ``/inbjudan``, and help texts."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.commands_menu import publish_member_commands
from bot.context import BotContext
from bot.telegram_io import answer, callback, in_rows, keyboard, send, show
from messages.labels import CANCEL, ROLE_LABELS
from storage.members import InviteProblem, create_invite, member_by_user, redeem_invite

INVITE_HOURS = 72
PREFIX = "inv"


def invite_link(bot_username: str | None, token: str) -> str | None:
    return f"https://t.me/{bot_username}?start={token}" if bot_username else None


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
    actor = context.member
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


async def invite_command(update: Update, context: BotContext) -> None:
    services = context.services
    if not context.member.is_admin:
        await send(update, services.render("onboarding", "only_admins"))
        return
    buttons = [(label, callback(PREFIX, "r", role)) for role, label in ROLE_LABELS.items()]
    await send(update, services.render("onboarding", "choose_role"),
               keyboard([*in_rows(buttons, 3), [(CANCEL, callback(PREFIX, "x"))]]))


async def invite_button(update: Update, context: BotContext) -> None:
    """``inv:r:<role>`` → pick organisation; ``inv:o:<role>:<org>`` → create."""
    services = context.services
    if not context.member.is_admin:
        await answer(update, services.render("onboarding", "only_admins"), alert=True)
        return
    parts = update.callback_query.data.split(":")
    config = services.config
    if parts[1:2] == ["x"]:
        await answer(update)
        await show(update, services.render("onboarding", "invite_cancelled"))
        return
    role = parts[2] if len(parts) > 2 else None
    if role not in ROLE_LABELS:
        await answer(update)
        return
    if parts[1] == "r" and len(parts) == 3:
        buttons = [(org.name, callback(PREFIX, "o", role, org.key))
                   for org in config.organisations]
        await answer(update)
        await show(update, services.render("onboarding", "choose_org", role=role),
                   keyboard([*in_rows(buttons, 1), [(CANCEL, callback(PREFIX, "x"))]]))
        return
    org = config.organisation(parts[3]) if parts[1] == "o" and len(parts) == 4 else None
    if org is None:
        await answer(update)
        return
    async with services.db.session() as session:
        token = await create_invite(session, role=role, org_key=org.key, now=services.now(),
                                    hours=INVITE_HOURS,
                                    created_by_member_id=context.member.member_id)
        await session.commit()
    await answer(update)
    username = config.bot_username or context.bot.username
    await show(update, services.render(
        "onboarding", "invite_created", role=role, org_name=org.name,
        link=invite_link(username, token), token=token, hours=INVITE_HOURS))


def build_onboarding_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("start", start, filters=private),
        CommandHandler(["hjalp", "help"], help_command, filters=private),
        CommandHandler("inbjudan", invite_command, filters=private),
        CallbackQueryHandler(invite_button, pattern=rf"^{PREFIX}:"),
    ]
