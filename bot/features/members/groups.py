"""Groups: admins register them; supergroup upgrades keep the registration."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.core.context import BotContext
from bot.core.telegram_io import send
from storage.members import group_by_chat, move_group, register_group

log = logging.getLogger(__name__)


# ``/registrera_grupp`` registers a coordinator group; with one of these words, a
# briefing group that gets the Friday utsättning (and nothing else).
GROUP_KINDS = {"": "coordinator", "samordning": "coordinator", "utsattning": "briefing",
               "utsättning": "briefing"}


def _kind_argument(context: BotContext) -> str | None:
    word = " ".join(context.args or []).strip().lower()
    return GROUP_KINDS.get(word)


async def register(update: Update, context: BotContext) -> None:
    services, chat = context.services, update.effective_chat
    if context.actor is None or not context.actor.is_admin:
        await send(update, services.render("groups", "only_admins"))
        return
    kind = _kind_argument(context)
    if kind is None:
        await send(update, services.render("groups", "unknown_kind"))
        return
    async with services.db.session() as session:
        existing = await group_by_chat(session, chat.id)
        if existing is not None and existing.active and existing.kind == kind:
            await send(update, services.render("groups", "already_registered",
                                               title=chat.title or ""))
            return
        await register_group(session, chat_id=chat.id, title=chat.title or "",
                             member_id=context.actor.member_id, now=services.now(), kind=kind)
        await session.commit()
    macro = "registered_briefing" if kind == "briefing" else "registered"
    text = services.render("groups", macro, title=chat.title or "")
    if kind == "coordinator":  # coordinators type reasons and texts here
        text = f"{text}\n\n{services.render('groups', 'delete_rights')}"
    await send(update, text)


async def bot_added(update: Update, context: BotContext) -> None:
    """The gatekeeper let this through only for an admin, or in a registered group."""
    if any(m.id == context.bot.id for m in update.effective_message.new_chat_members):
        await send(update, context.services.render("groups", "added_by_admin"))


async def migrated(update: Update, context: BotContext) -> None:
    message = update.effective_message
    old, new = ((message.chat.id, message.migrate_to_chat_id) if message.migrate_to_chat_id
                else (message.migrate_from_chat_id, message.chat.id))
    async with context.services.db.session() as session:
        if await move_group(session, old, new):
            log.info("group %s became supergroup %s", old, new)
        await session.commit()


async def group_help(update: Update, context: BotContext) -> None:
    await send(update, context.services.render("groups", "group_help"))


def build_group_handlers() -> list[BaseHandler]:
    groups = filters.ChatType.GROUPS
    return [
        CommandHandler("registrera_grupp", register, filters=groups),
        CommandHandler(["hjalp", "help", "start"], group_help, filters=groups),
        MessageHandler(groups & filters.StatusUpdate.NEW_CHAT_MEMBERS, bot_added),
        MessageHandler(filters.StatusUpdate.MIGRATE, migrated),
    ]
