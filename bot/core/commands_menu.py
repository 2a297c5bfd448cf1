"""The command menus people see when they type '/': by role, published at start."""

from __future__ import annotations

import logging

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
)
from telegram.error import TelegramError
from telegram.ext import Application

from storage.facts import coordinators

log = logging.getLogger(__name__)

REPORTER_COMMANDS = [
    ("rapport", "Rapportera vad du ser"),
    ("lugnt", "Allt lugnt i ett område"),
    ("mina_rapporter", "Dina senaste rapporter"),
    ("paus", "Pausa påminnelser och utskick"),
    ("aterkom", "Ta emot utskick igen"),
    ("mina_uppgifter", "Vad som finns sparat om dig"),
    ("avsluta", "Avsluta ditt medlemskap"),
    ("hjalp", "Hjälp"),
]
COORDINATOR_COMMANDS = [
    ("lagesbild", "Samlad lägesbild"),
    ("niva", "Ändra läge i ett område"),
    ("checklista", "Varningssignaler (Bilaga 3)"),
    ("handelse", "Registrera en kommande händelse"),
    ("insats", "Insatser och uppföljning"),
    ("agenda", "Punkter till torsdagsmötet"),
    ("export", "Exportera rapporter (CSV, Excel, karta)"),
    ("medlemmar", "Medlemmar och roller"),
]
ADMIN_COMMANDS = [("inbjudan", "Bjud in en person"), ("logg", "Vem gjorde vad")]
GROUP_COMMANDS = [
    ("lagesbild", "Samlad lägesbild"),
    ("niva", "Ändra läge i ett område (samordnare)"),
    ("registrera_grupp", "Registrera gruppen (admin)"),
    ("hjalp", "Hjälp"),
]


def commands_for(role: str) -> list[BotCommand]:
    commands = list(REPORTER_COMMANDS)
    if role in ("coordinator", "admin"):
        commands[1:1] = COORDINATOR_COMMANDS
    if role == "admin":
        commands[-1:-1] = ADMIN_COMMANDS
    return [BotCommand(*c) for c in commands]


async def publish_member_commands(bot: Bot, telegram_user_id: int, role: str | None) -> None:
    """Coordinators and admins see their extra commands in their own chat's menu; a
    reporter (also one demoted) and an ended member (``None``) see the default menu."""
    scope = BotCommandScopeChat(telegram_user_id)
    if role in ("coordinator", "admin"):
        await bot.set_my_commands(commands_for(role), scope=scope)
    else:
        await bot.delete_my_commands(scope=scope)


async def publish_commands(application: Application) -> None:
    """The command menus people see when they type '/'."""
    bot, services = application.bot, application.bot_data["services"]
    await bot.set_my_commands(commands_for("reporter"), scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands([BotCommand(*c) for c in GROUP_COMMANDS],
                              scope=BotCommandScopeAllGroupChats())
    async with services.db.session() as session:
        leaders = await coordinators(session)
    for member in leaders:
        try:
            await publish_member_commands(bot, member.telegram_user_id, member.role)
        except TelegramError as exc:  # e.g. never started the bot: the menu comes later
            log.info("no command menu for member %s: %s", member.id, exc)
