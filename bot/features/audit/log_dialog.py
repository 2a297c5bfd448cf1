"""``/logg`` (admins): the audit log, latest first, paged.

Each row says when, who (a member, the shell or the bot itself) and what, in Swedish,
from the action and its details (counts, keys, choices; never free text).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.core.telegram_io import send
from bot.dialogs import DialogSpec, Screen, Step, Turn
from bot.dialogs.lists import list_page
from storage import audit
from storage import members as member_store

KIND = "audit_log"
TEMPLATE = "audit"
LOG = "log"
SHOWN = 200  # the newest rows in chat; the shell export has them all


async def _log(turn: Turn) -> Screen:
    events = await audit.events(turn.session, limit=SHOWN)
    if not events:
        return Screen(turn.render(TEMPLATE, "empty"))
    ids = {e.actor_member_id for e in events if e.actor_member_id}
    ids |= {int(e.object_id) for e in events
            if e.object_kind == "member" and (e.object_id or "").isdigit()}
    names = await member_store.member_names(turn.session, ids)
    config = turn.services.config
    lines = [turn.render(TEMPLATE, "line", e=e, names=names,
                         area_name=config.area_name, org_name=config.organisation_name)
             for e in events]
    text, _shown, page = list_page(turn, lines, header=turn.render(TEMPLATE, "header"))
    return Screen(text, page=page)


DIALOG = DialogSpec(
    kind=KIND,
    first_step=LOG,
    min_role="admin",
    cancelled=lambda turn: turn.render(TEMPLATE, "closed"),
    ended=(TEMPLATE, "closed"),
    steps={LOG: Step(_log)},
)


async def log_command(update: Update, context: BotContext) -> None:
    actor = context.actor
    if actor is None or not actor.is_admin:
        await send(update, context.services.render("members", "only_admins"))
        return
    await context.dialogs.start(update, context, KIND)


def build_log_handlers() -> list[BaseHandler]:
    return [CommandHandler("logg", log_command, filters=filters.ChatType.PRIVATE)]
