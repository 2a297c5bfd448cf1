"""``/avsluta``: a member ends their own membership, after a confirmation.

Their Telegram name is erased at once; their reports stay with their organisation.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from storage import members as store

KIND = "leave"
TEMPLATE = "members"
CONFIRM = "confirm"


def _confirm(turn: Turn) -> Screen:
    org_name = turn.services.config.organisation_name(turn.actor.org_key)
    return Screen(turn.render(TEMPLATE, "confirm_leave", org_name=org_name),
                  [[Button("Ja, avsluta mitt medlemskap", "y")]])


async def _on_confirm(turn: Turn, action: str, arg: str) -> Next:
    member = await store.current_member(turn.session, turn.actor.member_id)
    if action != "y" or member is None:
        raise Invalid(turn.render(TEMPLATE, "leave_ended"))
    try:
        await store.end_membership(turn.session, member, now=turn.now,
                                   by_member_id=member.id, erase_name=True)
    except store.MemberProblem as problem:
        raise Invalid(turn.render(TEMPLATE, "last_admin_leave")) from problem
    return Finish(turn.render(TEMPLATE, "left"))


DIALOG = DialogSpec(
    kind=KIND,
    first_step=CONFIRM,
    min_role="reporter",
    cancelled=lambda turn: turn.render(TEMPLATE, "leave_cancelled"),
    ended=(TEMPLATE, "leave_ended"),
    steps={CONFIRM: Step(_confirm, press=_on_confirm)},
)


async def leave_command(update: Update, context: BotContext) -> None:
    await context.dialogs.start(update, context, KIND)


def build_leave_handlers() -> list[BaseHandler]:
    return [CommandHandler("avsluta", leave_command, filters=filters.ChatType.PRIVATE)]
