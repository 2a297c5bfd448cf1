"""``/lugnt``: "we walked area X, all calm" in two taps, as a one-step dialog."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from bot.features.reports.report_dialog import (
    commit_report,
    delete_message,
    earlier_choices,
    in_rows,
    when_done,
)
from est.report_draft import calm_report
from storage import reports as store

KIND = store.CALM
STEP = "calm"


def _areas(turn: Turn) -> Screen:
    buttons = [Button(a.name, "a", a.key) for a in turn.services.config.areas]
    return Screen(turn.render("report", "calm_area"), in_rows(buttons, 2))


async def _chosen(turn: Turn, action: str, arg: str) -> Next:
    config = turn.services.config
    area = config.area(arg) if action == "a" else None
    if area is None:
        raise Invalid(turn.render("report", "ended"))
    turn.row.data = calm_report(area.key, config.calm_category.key, turn.now).to_json()
    report = await commit_report(turn)
    return Finish(turn.render("report", "calm_done", reference=report.reference,
                              area_name=area.name, moment=turn.now))


DIALOG = DialogSpec(
    kind=KIND,
    first_step=STEP,
    replaces=(store.REPORT, store.CALM),
    cancelled=lambda turn: turn.render("report", "cancelled"),
    ended=("report", "ended"),
    when_done=when_done,
    steps={STEP: Step(_areas, press=_chosen)},
)


async def calm_command(update: Update, context: BotContext) -> None:
    chat_id = update.effective_chat.id
    _, prompts = await earlier_choices(context.services, context.member, chat_id)
    await context.dialogs.start(update, context, KIND)
    for prompt in prompts:  # of the report dialog /lugnt replaces
        await delete_message(context.bot, chat_id, prompt)


def build_calm_handlers() -> list[BaseHandler]:
    return [CommandHandler("lugnt", calm_command, filters=filters.ChatType.PRIVATE)]
