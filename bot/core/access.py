"""The gatekeeper: runs first for every update and decides who gets anything.

Unknown people get one short refusal and nothing is kept of what they sent;
unregistered groups get silence (and the bot leaves if a non-admin added it).
An edited message is never new input for any handler: it stops here (a member
in private is told so once per edit). Handlers after this point find
``context.actor`` set for registered members.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.core.context import Actor, BotContext
from bot.core.telegram_io import answer, send
from storage.members import group_by_chat, member_by_user

log = logging.getLogger(__name__)

GATEKEEPER_GROUP = -1
# Commands that reach their handler from someone not (yet) allowed elsewhere.
START, REGISTER_GROUP = "/start", "/registrera_grupp"


def _command(update: Update) -> str | None:
    message = update.effective_message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0].split("@")[0].lower()


def _invite_redemption(update: Update) -> bool:
    """``/start <token>`` (an invite link): the one thing a stranger may send on.

    A bare ``/start`` (the START button, a link that lost its token) is like any
    other message from a stranger.
    """
    message = update.message
    return (message is not None and _command(update) == START
            and len(message.text.split()) > 1)


async def gatekeeper(update: Update, context: BotContext) -> None:
    if update.edited_channel_post is not None:
        raise ApplicationHandlerStop  # the bot serves no channel
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or user.is_bot:
        raise ApplicationHandlerStop
    services = context.services
    async with services.db.session() as session:
        member = await member_by_user(session, user.id)
        group = None if chat.type == ChatType.PRIVATE else await group_by_chat(session, chat.id)
        wrote = update.message is not None or update.callback_query is not None
        if member is not None and not member.active and chat.type == ChatType.PRIVATE and wrote:
            # Wrote to us again after blocking the bot (not Telegram's "blocked" notice).
            member.active = True
            session.add(member)
            await session.commit()
    if member is not None:
        org = services.config.organisation(member.org_key)
        context.actor = Actor.of(member, org.kind if org else "annan")
    if update.edited_message is not None:
        await _ignore_edit(update, context)

    if chat.type == ChatType.PRIVATE:
        if context.actor is not None or _invite_redemption(update):
            return
        if wrote:  # not for membership notices such as "blocked the bot"
            await _refuse(update, context)
        raise ApplicationHandlerStop

    if group is not None and group.active:
        return
    message = update.effective_message
    if message is not None and message.migrate_from_chat_id:
        return  # a registered group became a supergroup: let groups.py move it
    admin = context.actor is not None and context.actor.is_admin
    if message is not None and any(m.id == context.bot.id for m in message.new_chat_members):
        if not admin:
            log.info("added to unregistered group %s by a non-admin; leaving", chat.id)
            await chat.leave()
            raise ApplicationHandlerStop
        return
    if admin and _command(update) == REGISTER_GROUP:
        return
    await answer(update)
    raise ApplicationHandlerStop


async def _ignore_edit(update: Update, context: BotContext) -> NoReturn:
    """An edit is no new input: a draft, a dialog step or a command never sees it.

    A member in private hears why nothing happened; groups and strangers get
    silence. A moving live location also arrives as edits: those are ignored
    quietly, as one notice per position update would flood the chat.
    """
    edited = update.edited_message
    if (edited.chat.type == ChatType.PRIVATE and context.actor is not None
            and edited.location is None):
        await send(update, context.services.render("fallbacks", "edited"))
    raise ApplicationHandlerStop


async def _refuse(update: Update, context: BotContext) -> None:
    text = context.services.render("onboarding", "refusal")
    if update.callback_query is not None:
        await answer(update, text, alert=True)
    else:
        await send(update, text)


async def coordinator_here(update: Update, context: BotContext) -> bool:
    """Coordinators and admins, in private or in a registered coordinator group."""
    actor, chat = context.actor, update.effective_chat
    if actor is None or not actor.is_coordinator:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    async with context.services.db.session() as session:
        group = await group_by_chat(session, chat.id)
    return group is not None and group.active and group.kind == "coordinator"


def build_gatekeeper() -> TypeHandler:
    return TypeHandler(Update, gatekeeper)
