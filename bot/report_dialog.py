"""The guided report, ``/rapport``: one message edited step by step.

The draft (storage.reports) is written on every step and the step is read
back from it, so a restart mid-dialog continues where the reporter was, and
a replayed update changes nothing twice. Callback data: ``r:<draft>:<action>[:<arg>]``.
"""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.alerts import after_report
from bot.context import Actor, BotContext
from bot.services import Services
from bot.telegram_io import (
    answer,
    callback,
    delete_quietly,
    drop_keyboard,
    in_rows,
    keyboard,
    send,
    show,
)
from est import report_draft as flow
from est.privacy import check_free_text
from est.report_draft import InvalidChoice, ReportDraft
from messages import labels
from storage import reports as store
from storage.models import Member, Report
from storage.models import ReportDraft as DraftRow

log = logging.getLogger(__name__)

PREFIX = "r"
STEP_TITLES = {
    flow.AREA: "område", flow.PLACE: "plats", flow.WHAT: "vad", flow.PEOPLE: "antal",
    flow.WHEN: "när", flow.SEVERITY: "allvar", flow.TEXT: "beskrivning",
    flow.SHARING: "delning",
}
EDIT_MENU = "edit"  # a pseudo-step: the "Ändra" menu on the summary


# ---------------------------------------------------------------- presentation

def view(services: Services, data: ReportDraft) -> dict:
    """The draft in words, for the templates."""
    config = services.config
    area = config.area(data.area) if data.area else None
    place = None
    if data.place_key and area:
        known = config.place(area.key, data.place_key)
        place = known.name if known else data.place_key
    elif data.place_name:
        place = data.place_name
    elif data.lat is not None:
        place = f"delad position ({data.lat:.4f}, {data.lon:.4f})"
    occurred = data.occurred()
    when = None
    if occurred is not None:
        when = services.messages.date_time(occurred)
        if data.when_label:
            when = f"{data.when_label} ({services.messages.clock(occurred)})"
    categories = [c.label if (c := config.category(k)) else k for k in data.categories]
    return {
        "area_name": area.name if area else None,
        "place": place,
        "categories": categories,
        "people": flow.PEOPLE_CHOICES.get(data.people or ""),
        "when": when,
        "severity": flow.SEVERITY_CHOICES.get(data.severity or 0),
        "text": data.text,
        "sharing": flow.SHARING_CHOICES.get(data.sharing, data.sharing),
    }


def _nav(draft_id: int, back: bool = True) -> list[tuple[str, str]]:
    row = [(labels.BACK, callback(PREFIX, draft_id, "b"))] if back else []
    return [*row, (labels.CANCEL, callback(PREFIX, draft_id, "x"))]


def render_step(services: Services, actor: Actor, row: DraftRow, step: str,
                notice: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """Text and keyboard for one step of one draft."""
    data = ReportDraft.from_json(row.data)
    config, d, i = services.config, view(services, data), row.id
    text = services.render("report", step if step != EDIT_MENU else "edit_menu", d=d) \
        if step not in (flow.TEXT, flow.SUMMARY) else None
    rows: list[list[tuple[str, str]]] = []
    if step == flow.AREA:
        rows = in_rows([(a.name, callback(PREFIX, i, "a", a.key)) for a in config.areas], 2)
        rows.append(_nav(i, back=False))
    elif step == flow.PLACE:
        area = config.area(data.area)
        places = [(p.name, callback(PREFIX, i, "p", p.key)) for p in area.places]
        rows = [*in_rows(places, 2), [(labels.OTHER_PLACE, callback(PREFIX, i, "pt"))],
                _nav(i)]
    elif step == flow.PLACE_TEXT:
        rows = [_nav(i)]
    elif step == flow.WHAT:
        for category in flow.reportable_categories(config, actor.org_kind):
            on = category.key in data.categories
            mark = labels.SELECTED if on else labels.UNSELECTED
            rows.append([(mark + category.label,
                          callback(PREFIX, i, "c", f"{category.key}.{0 if on else 1}"))])
        rows += [[(labels.DONE, callback(PREFIX, i, "cd"))], _nav(i)]
    elif step == flow.PEOPLE:
        choices = [(label, callback(PREFIX, i, "n", key))
                   for key, label in flow.PEOPLE_CHOICES.items()]
        rows = [*in_rows(choices, 3), _nav(i)]
    elif step == flow.WHEN:
        choices = [(label, callback(PREFIX, i, "w", key))
                   for key, label in flow.WHEN_CHOICES.items()]
        rows = [*in_rows(choices, 2), [(labels.TYPE_TIME, callback(PREFIX, i, "wt"))],
                _nav(i)]
    elif step == flow.WHEN_TEXT:
        rows = [_nav(i)]
    elif step == flow.SEVERITY:
        choices = [(label, callback(PREFIX, i, "s", level))
                   for level, label in flow.SEVERITY_CHOICES.items()]
        rows = [*in_rows(choices, 2), _nav(i)]
    elif step == flow.TEXT:
        text = services.render("report", "text", d=d, max_len=config.reporting.free_text_max)
        rows = [[(labels.SKIP, callback(PREFIX, i, "ts"))], _nav(i)]
    elif step == flow.SHARING:
        rows = [[(label, callback(PREFIX, i, "d", key))]
                for key, label in flow.SHARING_CHOICES.items()]
        rows.append(_nav(i))
    elif step == flow.SUMMARY:
        text = services.render("report", "summary", d=d, notice=notice,
                               editing=data.editing_reference)
        rows = [[(labels.SEND, callback(PREFIX, i, "ok"))],
                [(labels.CHANGE, callback(PREFIX, i, "ed")),
                 (labels.CANCEL, callback(PREFIX, i, "x"))]]
    elif step == EDIT_MENU:
        buttons = [(STEP_TITLES[s].capitalize(), callback(PREFIX, i, "g", s))
                   for s in flow.EDITABLE_STEPS]
        rows = [*in_rows(buttons, 3), [(labels.BACK, callback(PREFIX, i, "g", flow.SUMMARY))]]
    if notice and step != flow.SUMMARY:
        text = f"<i>{notice}</i>\n\n{text}"
    return text, keyboard(rows)


# ---------------------------------------------------------------- handlers

async def start_report(update: Update, context: BotContext) -> None:
    """``/rapport``: a new draft; a replayed command shows the draft it made."""
    services, actor = context.services, context.member
    async with services.db.session() as session:
        row = await store.current_draft(session, actor.member_id)
        if row is None or row.last_update_id < update.update_id:
            row = await store.open_draft(session, member_id=actor.member_id,
                                         chat_id=update.effective_chat.id, step=flow.AREA,
                                         data=ReportDraft().to_json(), now=services.now())
            row.last_update_id = update.update_id
        text, markup = render_step(services, actor, row, row.step)
        message = await send(update, text, markup)
        row.message_id = message.message_id
        session.add(row)
        await session.commit()


async def on_button(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.member
    parsed = _parse(update.callback_query.data)
    if parsed is None:
        await answer(update, services.render("report", "ended"))
        return
    draft_id, action, arg = parsed
    async with services.db.session() as session:
        row = await store.lock_draft(session, draft_id)
        if row is None or row.member_id != actor.member_id:
            await answer(update, services.render("report", "ended"))
            return
        if row.status == store.SUBMITTED:
            # A second press, or "Skicka" replayed after a crash between commit and
            # receipt: the same report, and the receipt shown (again).
            report = await store.report_of_draft(session, row)
            await answer(update, services.render("report", "already_sent",
                                                 reference=report.reference if report else ""))
            if report is not None:
                await show(update, services.render(
                    "report", "receipt", reference=report.reference,
                    d=view(services, ReportDraft.from_json(row.data)),
                    edited=row.editing_report_id is not None))
            return
        if row.status != store.OPEN:
            await answer(update, services.render("report", "ended"))
            return
        if update.update_id <= row.last_update_id:
            await answer(update)  # replayed after a restart: already applied
            await show(update, *render_step(services, actor, row, row.step))
            return
        await _apply_button(update, context, session, row, action, arg)


async def _apply_button(update, context: BotContext, session, row: DraftRow, action: str,
                        arg: str | None) -> None:
    services, actor = context.services, context.member
    data = ReportDraft.from_json(row.data)
    if action == "x":
        row.status = store.CANCELLED
        store.save_step(row, step=row.step, data=data, update_id=update.update_id,
                        now=services.now())
        session.add(row)
        await session.commit()
        await answer(update)
        await show(update, services.render("report", "cancelled"))
        return
    if action == "ok":
        await _submit(update, context, session, row, data)
        return
    if action == "ed":
        step = EDIT_MENU
    elif action == "g" and arg == flow.SUMMARY:
        step = flow.SUMMARY
    else:
        try:
            step = flow.choose(data, row.step, action, arg, config=services.config,
                               org_kind=actor.org_kind, now=services.now())
        except InvalidChoice as problem:
            await answer(update, str(problem))
            return
    if step != EDIT_MENU:
        store.save_step(row, step=step, data=data, update_id=update.update_id,
                        now=services.now())
    else:
        row.last_update_id = update.update_id
    row.message_id = update.callback_query.message.message_id
    session.add(row)
    await session.commit()
    await answer(update)
    await show(update, *render_step(services, actor, row, step))


async def _submit(update, context: BotContext, session, row: DraftRow, data) -> None:
    services, actor = context.services, context.member
    config = services.config
    missing = flow.first_missing_step(data)
    if missing is not None:
        await answer(update, services.render("report", "missing", step_title=STEP_TITLES[missing]))
        data.reviewing = True
        store.save_step(row, step=missing, data=data, update_id=update.update_id,
                        now=services.now())
        session.add(row)
        await session.commit()
        await show(update, *render_step(services, actor, row, missing))
        return
    if row.editing_report_id is not None:
        original = await session.get(Report, row.editing_report_id)
        if original is None or not editable(services, original):
            await answer(update, services.render(
                "report", "too_late", window=config.reporting.edit_window_minutes), alert=True)
            row.status = store.CANCELLED
            session.add(row)
            await session.commit()
            return
    report = await commit_report(update, context, session, row, services.now())
    # Only now, with the report committed, does the reporter get a receipt.
    await answer(update)
    await show(update, services.render("report", "receipt", reference=report.reference,
                                       d=view(services, data),
                                       edited=row.editing_report_id is not None))
    analyse_later(context, report)


async def commit_report(update: Update, context: BotContext, session, row: DraftRow,
                        now: datetime) -> Report:
    """Store the draft as a report (exactly once) and commit; the receipt comes after."""
    member = await session.get(Member, context.member.member_id)
    report = await store.submit_draft(session, row, member, now=now,
                                      year=now.astimezone(context.services.config.tz).year)
    row.last_update_id = update.update_id
    session.add(row)
    await session.commit()
    return report


def analyse_later(context: BotContext, report: Report) -> None:
    """Alerts and suggestions run after the reporter has the receipt."""
    context.services.spawn(after_report(context.services, context.bot, report.id),
                           f"after-report-{report.id}")


def editable(services: Services, report: Report) -> bool:
    window = services.config.reporting.edit_window_minutes
    age = services.now() - report.received_at
    return report.withdrawn_at is None and age.total_seconds() <= window * 60


async def on_text(update: Update, context: BotContext) -> None:
    """Typed text answers the step that waits for it: place, time or description."""
    services, actor = context.services, context.member
    message = update.effective_message
    async with services.db.session() as session:
        current = await store.current_draft(session, actor.member_id)
        if current is None:
            await send(update, services.render("report", "nothing_open"))
            return
        row = await store.lock_draft(session, current.id)
        if update.update_id <= row.last_update_id:
            return  # replayed: already applied
        data = ReportDraft.from_json(row.data)
        step, notice = row.step, None
        if row.step in (flow.PLACE, flow.PLACE_TEXT):
            name = flow.clean_place_name(message.text)
            checked = check_free_text(name, max_len=flow.MAX_PLACE_NAME)
            if not checked.ok:
                await send(update, checked.problem)
                await delete_quietly(message)
                return
            data.clear_place()
            data.place_name, notice = checked.text, checked.notice
            step = flow.next_step(data, flow.PLACE)
        elif row.step == flow.WHEN_TEXT:
            moment = flow.parse_clock_time(message.text, services.local_now())
            if isinstance(moment, str):
                await send(update, moment)
                return
            data.occurred_at, data.when_label = moment.astimezone(services.now().tzinfo) \
                .isoformat(), None
            step = flow.next_step(data, flow.WHEN)
        elif row.step == flow.TEXT:
            checked = check_free_text(message.text,
                                      max_len=services.config.reporting.free_text_max)
            # The reporter's own message leaves the chat either way: the text
            # lives in the draft (masked), or is refused and kept nowhere.
            await delete_quietly(message)
            if not checked.ok:
                await send(update, services.render("report", "text_refused",
                                                   problem=checked.problem))
                return
            data.text, data.text_skipped, notice = checked.text, False, checked.notice
            step = flow.next_step(data, flow.TEXT)
        else:
            await send(update, services.render("report", "use_buttons"))
            return
        await _advance_by_message(update, context, session, row, data, step, notice)


async def on_location(update: Update, context: BotContext) -> None:
    """A shared Telegram location answers the place step."""
    services, actor = context.services, context.member
    location = update.effective_message.location
    async with services.db.session() as session:
        current = await store.current_draft(session, actor.member_id)
        if current is None or current.step not in (flow.PLACE, flow.PLACE_TEXT):
            await send(update, services.render("report", "nothing_open" if current is None
                                               else "use_buttons"))
            return
        row = await store.lock_draft(session, current.id)
        if update.update_id <= row.last_update_id:
            return
        data = ReportDraft.from_json(row.data)
        data.clear_place()
        data.lat, data.lon = round(location.latitude, 5), round(location.longitude, 5)
        await _advance_by_message(update, context, session, row, data,
                                  flow.next_step(data, flow.PLACE), None)


async def _advance_by_message(update, context: BotContext, session, row: DraftRow,
                              data: ReportDraft, step: str, notice: str | None) -> None:
    """A typed answer: save, retire the old dialog message, show the next step anew."""
    services = context.services
    old_message_id = row.message_id
    store.save_step(row, step=step, data=data, update_id=update.update_id, now=services.now())
    session.add(row)
    await session.commit()
    await drop_keyboard(context.bot, row.chat_id, old_message_id)
    message = await send(update, *render_step(services, context.member, row, step, notice))
    row.message_id = message.message_id
    session.add(row)
    await session.commit()


def _parse(data: str | None) -> tuple[int, str, str | None] | None:
    parts = (data or "").split(":")
    if len(parts) not in (3, 4) or parts[0] != PREFIX or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2], parts[3] if len(parts) == 4 else None


def build_report_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("rapport", start_report, filters=private),
        CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"),
        MessageHandler(private & filters.LOCATION, on_location),
        MessageHandler(private & filters.TEXT & ~filters.COMMAND, on_text),
    ]
