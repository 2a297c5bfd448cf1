"""``/lugnt`` (a calm shift in two taps) and ``/mina_rapporter`` (edit, withdraw)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import BotContext
from bot.report_dialog import analyse_later, commit_report, editable, render_step
from bot.telegram_io import answer, callback, in_rows, keyboard, send, show
from est import report_draft as flow
from est.report_draft import ReportDraft
from messages import labels
from storage import reports as store
from storage.models import Report

CALM, MINE = "l", "m"


async def calm_command(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.member
    async with services.db.session() as session:
        row = await store.current_draft(session, actor.member_id)
        if row is None or row.step != "calm" or row.last_update_id < update.update_id:
            row = await store.open_draft(session, member_id=actor.member_id,
                                         chat_id=update.effective_chat.id, step="calm",
                                         data=ReportDraft().to_json(), now=services.now())
            row.last_update_id = update.update_id
        buttons = [(a.name, callback(CALM, row.id, a.key)) for a in services.config.areas]
        message = await send(update, services.render("report", "calm_area"),
                             keyboard([*in_rows(buttons, 2),
                                       [(labels.CANCEL, callback(CALM, row.id, "-"))]]))
        row.message_id = message.message_id
        session.add(row)
        await session.commit()


async def calm_button(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.member
    config = services.config
    _, draft_id, area_key = [*update.callback_query.data.split(":"), "", ""][:3]
    async with services.db.session() as session:
        row = await store.lock_draft(session, int(draft_id)) if draft_id.isdigit() else None
        if row is None or row.member_id != actor.member_id or row.step != "calm":
            await answer(update, services.render("report", "ended"))
            return
        if row.status == store.SUBMITTED:
            report = await store.report_of_draft(session, row)
            await answer(update, services.render("report", "already_sent",
                                                 reference=report.reference))
            return
        if row.status != store.OPEN:
            await answer(update, services.render("report", "ended"))
            return
        if area_key == "-":
            row.status = store.CANCELLED
            session.add(row)
            await session.commit()
            await answer(update)
            await show(update, services.render("report", "cancelled"))
            return
        area = config.area(area_key)
        if area is None:
            await answer(update, services.render("report", "ended"))
            return
        now = services.now()
        data = ReportDraft(area=area.key, categories=[config.calm_category.key], people="0",
                           occurred_at=now.isoformat(), when_label="Nu")
        row.data = data.to_json()
        report = await commit_report(update, context, session, row, now)
    await answer(update)
    await show(update, services.render("report", "calm_done", reference=report.reference,
                                       area_name=area.name, moment=now))
    analyse_later(context, report)


async def my_reports(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.member
    config = services.config
    async with services.db.session() as session:
        reports = await store.latest_reports(session, actor.member_id)
        categories = await store.categories_of(session, [r.id for r in reports])
    items, rows = [], []
    for report in reports:
        area = config.area(report.area_key)
        place = config.place(report.area_key, report.place_key) if report.place_key else None
        items.append({
            "reference": report.reference,
            "received": report.received_at,
            "withdrawn": report.withdrawn_at is not None,
            "area_name": area.name if area else report.area_key,
            "place": place.name if place else report.place_name,
            "categories": [c.label if (c := config.category(k)) else k
                           for k in categories[report.id]],
        })
        if editable(services, report):
            # A calm report is two taps: withdraw and redo it rather than edit it.
            calm = categories[report.id] == [config.calm_category.key]
            edit = [] if calm else [(f"{labels.EDIT} {report.reference}",
                                     callback(MINE, "e", report.id))]
            rows.append([*edit, (f"{labels.WITHDRAW} {report.reference}",
                                 callback(MINE, "w", report.id))])
    text = services.render("report", "my_reports", items=items,
                           window=config.reporting.edit_window_minutes)
    await send(update, text, keyboard(rows) if rows else None)


async def my_reports_button(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.member
    window = services.config.reporting.edit_window_minutes
    parts = update.callback_query.data.split(":")
    if len(parts) != 3 or not parts[2].isdigit():
        await answer(update, services.render("report", "kept"))
        await show(update, services.render("report", "kept"))
        return
    action, report_id = parts[1], int(parts[2])
    async with services.db.session() as session:
        report = await store.own_report(session, report_id, actor.member_id)
        if report is None:
            await answer(update, services.render("report", "ended"))
            return
        if action == "w" and report.withdrawn_at is not None:
            await answer(update)
            await show(update, services.render("report", "withdrawn",
                                               reference=report.reference))
            return
        if not editable(services, report):
            await answer(update, services.render("report", "too_late", window=window),
                         alert=True)
            return
        if action == "w":
            await answer(update)
            await show(update, services.render("report", "confirm_withdraw",
                                               reference=report.reference),
                       keyboard([[(labels.CONFIRM_WITHDRAW, callback(MINE, "wy", report.id)),
                                  (labels.KEEP, callback(MINE, "k"))]]))
        elif action == "wy":
            report.withdrawn_at = services.now()
            session.add(report)
            await session.commit()
            await answer(update)
            await show(update, services.render("report", "withdrawn",
                                               reference=report.reference))
        elif action == "e":
            row = await _open_edit(session, report, update, services)
            text, markup = render_step(services, actor, row, flow.SUMMARY)
            await answer(update)
            message = await send(update, text, markup)
            row.message_id = message.message_id
            session.add(row)
            await session.commit()
        else:
            await answer(update)


async def _open_edit(session, report: Report, update: Update, services):
    categories = (await store.categories_of(session, [report.id]))[report.id]
    data = ReportDraft(area=report.area_key, place_key=report.place_key,
                       place_name=report.place_name, lat=report.lat, lon=report.lon,
                       categories=categories, people=report.people,
                       occurred_at=report.occurred_at.isoformat(), severity=report.severity,
                       text=report.text, sharing=report.sharing, reviewing=True,
                       editing_reference=report.reference)
    row = await store.open_draft(session, member_id=report.member_id,
                                 chat_id=update.effective_chat.id, step=flow.SUMMARY,
                                 data=data.to_json(), now=services.now(),
                                 editing_report_id=report.id)
    row.last_update_id = update.update_id
    return row


def build_my_reports_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("lugnt", calm_command, filters=private),
        CallbackQueryHandler(calm_button, pattern=rf"^{CALM}:"),
        CommandHandler("mina_rapporter", my_reports, filters=private),
        CallbackQueryHandler(my_reports_button, pattern=rf"^{MINE}:"),
    ]
