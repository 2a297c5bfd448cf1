"""``/inbjudan`` (admins): choose role and organisation, get a single-use link."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from messages.labels import ROLE_LABELS
from storage.members import create_invite

KIND = "invite"
ROLE, ORG = "role", "org"
INVITE_HOURS = 72


def invite_link(bot_username: str | None, token: str) -> str | None:
    return f"https://t.me/{bot_username}?start={token}" if bot_username else None


def _roles(turn: Turn) -> Screen:
    buttons = [Button(label, "r", role) for role, label in ROLE_LABELS.items()]
    return Screen(turn.render("onboarding", "choose_role"), [buttons])


async def _role_chosen(turn: Turn, action: str, arg: str) -> Next:
    if action != "r" or arg not in ROLE_LABELS:
        raise Invalid(turn.render("dialogs", "ended"))
    turn.data["role"] = arg
    return ORG


def _organisations(turn: Turn) -> Screen:
    rows = [[Button(org.name, "o", org.key)] for org in turn.services.config.organisations]
    return Screen(turn.render("onboarding", "choose_org", role=turn.data["role"]), rows,
                  back=True)


async def _org_chosen(turn: Turn, action: str, arg: str) -> Next:
    config = turn.services.config
    org = config.organisation(arg) if action == "o" else None
    if org is None:
        raise Invalid(turn.render("dialogs", "ended"))
    role = turn.data["role"]
    token = await create_invite(turn.session, role=role, org_key=org.key, now=turn.now,
                                hours=INVITE_HOURS, created_by_member_id=turn.actor.member_id)
    username = config.bot_username or turn.bot.username
    return Finish(turn.render("onboarding", "invite_created", role=role, org_name=org.name,
                              link=invite_link(username, token), token=token,
                              hours=INVITE_HOURS))


DIALOG = DialogSpec(
    kind=KIND,
    first_step=ROLE,
    min_role="admin",
    cancelled=lambda turn: turn.render("onboarding", "invite_cancelled"),
    steps={ROLE: Step(_roles, press=_role_chosen),
           ORG: Step(_organisations, press=_org_chosen, back=ROLE)},
)


async def invite_command(update: Update, context: BotContext) -> None:
    if not context.member.is_admin:
        await context.bot.send_message(update.effective_chat.id, context.services.render(
            "onboarding", "only_admins"))
        return
    await context.dialogs.start(update, context, KIND)


def build_invite_handlers() -> list[BaseHandler]:
    return [CommandHandler("inbjudan", invite_command, filters=filters.ChatType.PRIVATE)]
