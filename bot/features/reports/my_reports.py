"""``/mina_rapporter``: my latest reports; change or withdraw within the edit window."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from bot.dialogs.callbacks import row_id
from bot.features.reports.report_dialog import (
    EDIT_MENU,
    delete_later,
    draft_from_report,
    open_position_prompts,
)
from est.report_draft import editable
from messages import labels
from storage import reports as store
from storage.models import Report

KIND = "mine"
LIST, CONFIRM = "list", "confirm"


async def _list(turn: Turn) -> Screen:
    services, config = turn.services, turn.services.config
    reports = await store.latest_reports(turn.session, turn.actor.member_id)
    categories = await store.categories_of(turn.session, [r.id for r in reports])
    items, rows = [], []
    for report in reports:
        items.append({
            "reference": report.reference,
            "received": report.received_at,
            "withdrawn": report.withdrawn_at is not None,
            "area_name": config.area_name(report.area_key),
            "place": config.place_name(report.area_key, report.place_key, report.place_name),
            "categories": [config.category_label(k) for k in categories[report.id]],
        })
        if editable(report.received_at, report.withdrawn_at, turn.now, config):
            # A calm report is two taps: withdraw and redo it rather than edit it.
            calm = categories[report.id] == [config.calm_category.key]
            edit = [] if calm else [Button(f"{labels.EDIT} {report.reference}", "e",
                                           str(report.id))]
            rows.append([*edit, Button(f"{labels.WITHDRAW} {report.reference}", "w",
                                       str(report.id))])
    text = services.render("report", "my_reports", items=items,
                           window=config.reporting.edit_window_minutes)
    return Screen(text, rows, cancel=False)


async def _own_editable(turn: Turn, arg: str) -> Report:
    report_id = row_id(arg)
    report = await store.own_report(turn.session, report_id, turn.actor.member_id) \
        if report_id is not None else None
    if report is None:
        raise Invalid(turn.render("report", "ended"))
    if not editable(report.received_at, report.withdrawn_at, turn.now, turn.services.config):
        raise Invalid(turn.render("report", "too_late",
                                  window=turn.services.config.reporting.edit_window_minutes))
    return report


async def _on_list(turn: Turn, action: str, arg: str) -> Next:
    report = await _own_editable(turn, arg)
    if action == "w":
        turn.data["report_id"] = report.id
        return CONFIRM
    if action == "e":
        turn.follow_with = await _open_edit(turn, report)
        return LIST
    raise Invalid(turn.render("report", "ended"))


async def _confirm(turn: Turn) -> Screen:
    report = await turn.session.get(Report, turn.data["report_id"])
    rows = [[Button(labels.CONFIRM_WITHDRAW, "wy"), Button(labels.KEEP, "k")]]
    return Screen(turn.render("report", "confirm_withdraw", reference=report.reference), rows,
                  cancel=False)


async def _on_confirm(turn: Turn, action: str, arg: str) -> Next:
    if action == "k":
        return Finish(turn.render("report", "kept"))
    if action != "wy":
        raise Invalid(turn.render("report", "ended"))
    report = await _own_editable(turn, str(turn.data["report_id"]))
    report.withdrawn_at = turn.now
    turn.session.add(report)
    return Finish(turn.render("report", "withdrawn", reference=report.reference))


async def _open_edit(turn: Turn, report: Report):
    """"Ändra" goes straight to the menu of what to change (a summary with "Skicka"
    first would make one press "Ändra" twice)."""
    for prompt in await open_position_prompts(turn.session, turn.actor.member_id,
                                              turn.row.chat_id):
        delete_later(turn, prompt)  # of a report dialog the edit replaces
    data = await draft_from_report(turn.session, report, reviewing=True,
                                   editing_reference=report.reference,
                                   editing_report_id=report.id)
    return await store.open_draft(turn.session, member_id=report.member_id,
                                  chat_id=turn.row.chat_id, step=EDIT_MENU,
                                  data=data.to_json(), now=turn.now)


DIALOG = DialogSpec(
    kind=KIND,
    first_step=LIST,
    cancelled=lambda turn: turn.render("report", "kept"),
    ended=("report", "ended"),
    steps={LIST: Step(_list, press=_on_list), CONFIRM: Step(_confirm, press=_on_confirm)},
)


async def my_reports(update: Update, context: BotContext) -> None:
    await context.dialogs.start(update, context, KIND)


def build_my_reports_handlers() -> list[BaseHandler]:
    return [CommandHandler("mina_rapporter", my_reports, filters=filters.ChatType.PRIVATE)]
