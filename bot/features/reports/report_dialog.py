"""The guided report, ``/rapport``, declared for the dialog engine.

The order of the steps, the allowed values and what a finished report holds
are decided in ``est.report_draft``; this module only says how each step is
shown and which est function a press or a typed answer goes to. The report
is stored by ``storage.reports.submit_draft`` exactly once, inside the turn's
transaction, and the engine shows the receipt only after the commit.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm.attributes import flag_modified
from telegram import KeyboardButton, ReplyKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.core.context import BotContext
from bot.core.telegram_io import send
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from bot.features.levels.alerts import after_report
from est import report_draft as flow
from est.privacy import check_free_text
from est.report_draft import InvalidChoice, ReportDraft
from est.visibility import egen_readers
from messages import labels
from storage import dialogs as dialog_store
from storage import outbox, report_usage
from storage import reports as store
from storage.models import Dialog, Member, Report

log = logging.getLogger(__name__)

KIND = store.REPORT
EDIT_MENU = "edit"  # a pseudo-step: the "Ändra" menu on the summary
# The "Vad" step puts first what the reporter's organisation reported in this period.
USAGE_PERIOD = timedelta(days=90)
# Telegram's own limit: any typed text fits; the report's limit is asked about.
MAX_TYPED = 4096
STEP_TITLES = {
    flow.AREA: "område", flow.PLACE: "plats", flow.WHAT: "vad", flow.PEOPLE: "antal",
    flow.WHEN: "när", flow.SEVERITY: "allvar", flow.TEXT: "beskrivning",
    flow.SHARING: "delning",
}


def draft_of(turn: Turn) -> ReportDraft:
    return ReportDraft.from_json(turn.data)


def keep(turn: Turn, draft: ReportDraft) -> None:
    turn.row.data = draft.to_json()


def view_model(services, data: ReportDraft) -> dict:
    """The draft in words, for the templates."""
    config = services.config
    place = config.place_name(data.area or "", data.place_key, data.place_name)
    if place is None and data.lat is not None:
        # Never the coordinates: the walker sees where, in words.
        near = flow.near_place(config, data.area or "", data.lat, data.lon)
        place = f"delad position nära {near}" if near else "delad position"
    occurred = data.occurred()
    when = None
    if occurred is not None:
        when = services.messages.date_time(occurred)
        if data.when_label in flow.DAY_WORDS:
            when = f"{data.when_label} {services.messages.clock(occurred)}"
        elif data.when_label:
            when = f"{data.when_label} ({services.messages.clock(occurred)})"
    return {
        "area_name": config.area_name(data.area) if data.area else None,
        "place": place,
        "categories": [config.category_label(k) for k in data.categories],
        "people": flow.PEOPLE_CHOICES.get(data.people or ""),
        "when": when,
        "severity": flow.SEVERITY_CHOICES.get(data.severity or 0),
        "text": data.text,
        "sharing": flow.SHARING_CHOICES.get(data.sharing, data.sharing),
        "from_position": data.from_position,
    }


async def egen_has_readers(turn: Turn) -> bool:
    """Whether anyone could read an egen report of the reporter's organisation."""
    return bool(egen_readers(turn.actor.org_key, await outbox.people(turn.session)))


async def arrive(turn: Turn, data: ReportDraft, step: str) -> str:
    """The step a turn leads to; arriving at the delning step may choose förmedlad for
    the reporter (est.report_draft.default_sharing)."""
    if step == flow.SHARING:
        flow.default_sharing(data, egen_has_readers=await egen_has_readers(turn))
    return step


def in_rows(buttons: list[Button], per_row: int) -> list[list[Button]]:
    return [buttons[i:i + per_row] for i in range(0, len(buttons), per_row)]


# ---------------------------------------------------------------- views

def _simple(step: str, buttons, per_row: int, extra: list[list[Button]] | None = None,
            back: bool = True, wants_text: bool = False):
    """A step whose text is the template macro of the same name."""
    def view(turn: Turn) -> Screen:
        d = view_model(turn.services, draft_of(turn))
        rows = in_rows(list(buttons(turn)), per_row) + (extra or [])
        return Screen(turn.render("report", step, d=d), rows, back=back, wants_text=wants_text)
    return view


def _areas(turn: Turn):
    return [Button(a.name, "a", a.key) for a in turn.services.config.areas]


def _places(turn: Turn):
    area = turn.services.config.area(draft_of(turn).area)
    return [Button(p.name, "p", p.key) for p in (area.places if area else [])]


async def _what(turn: Turn) -> Screen:
    """Two columns, "Klar" on top: the whole step fits a phone's screen. The categories
    the organisation's kind uses most come first (est.report_draft.ordered_categories)."""
    data = draft_of(turn)
    usage = await report_usage.category_usage(turn.session, turn.actor.org_key,
                                              since=turn.now - USAGE_PERIOD)
    buttons = []
    for category in flow.ordered_categories(turn.services.config, turn.actor.org_kind, usage):
        on = category.key in data.categories
        mark = labels.SELECTED if on else labels.UNSELECTED
        buttons.append(Button(mark + category.label, "c", f"{category.key}.{0 if on else 1}"))
    rows = [[Button(labels.DONE, "cd")], *in_rows(buttons, 2)]
    d = view_model(turn.services, data)
    return Screen(turn.render("report", flow.WHAT, d=d), rows, back=True)


def _place_area(turn: Turn) -> Screen:
    """The shared position lies in another area than the chosen one: which is right?"""
    data, config = draft_of(turn), turn.services.config
    choices = flow.position_areas(data, config)
    there = choices[0] if choices else data.area
    lat, lon = data.pending_lat or 0.0, data.pending_lon or 0.0
    place_key = flow.geo.nearest_place_key(config, there or "", lat, lon)
    place = config.place(there or "", place_key) if place_key else None
    text = turn.render("report", flow.PLACE_AREA, d=view_model(turn.services, data),
                       there_name=config.area_name(there or ""),
                       there_place=place.name if place else None,
                       chosen_name=config.area_name(data.area or ""))
    rows = [[Button(config.area_name(key), "pa", key) for key in choices]]
    return Screen(text, rows, back=True)


def _text_long(turn: Turn) -> Screen:
    data, max_len = draft_of(turn), turn.services.config.reporting.free_text_max
    ending = (data.pending_text or "")[-40:].lstrip()
    text = turn.render("report", flow.TEXT_LONG, d=view_model(turn.services, data),
                       length=data.pending_text_len, max_len=max_len, ending=ending)
    rows = [[Button(labels.KEEP_BEGINNING.format(max_len=max_len), "tk")],
            [Button(labels.WRITE_SHORTER, "tw")]]
    return Screen(text, rows, back=True)


def _text(turn: Turn) -> Screen:
    d = view_model(turn.services, draft_of(turn))
    text = turn.render("report", "text", d=d,
                       max_len=turn.services.config.reporting.free_text_max)
    return Screen(text, [[Button(labels.SKIP, "ts")]], back=True, wants_text=True)


async def _sharing(turn: Turn) -> Screen:
    """All coordinators or only mine, in plain words, one tap; the choice made for the
    reporter (their last one, or förmedlad when nobody could read an egen) comes first.
    Told when an egen report would be read by nobody."""
    data = draft_of(turn)
    d = view_model(turn.services, data)
    text = turn.render("report", flow.SHARING, d=d,
                       org_name=turn.services.config.organisation_name(turn.actor.org_key),
                       nobody_reads_egen=not await egen_has_readers(turn),
                       as_last_time=data.editing_report_id is None
                       and data.sharing == data.sharing_last)
    buttons = _choices(flow.SHARING_CHOICES, "d")(turn)
    buttons.sort(key=lambda b: b.arg != data.sharing)
    return Screen(text, in_rows(buttons, 1), back=True)


async def _summary(turn: Turn) -> Screen:
    data = draft_of(turn)
    text = turn.render("report", "summary", d=view_model(turn.services, data),
                       notice=await _egen_unread(turn, data), editing=data.editing_reference)
    rows = [[Button(labels.SEND, "ok")], [Button(labels.CHANGE, "ed")]]
    return Screen(text, rows)  # "Avbryt" is the engine's, under "Ändra"


async def _egen_unread(turn: Turn, data: ReportDraft) -> str | None:
    if data.sharing != flow.FORMEDLAD and not await egen_has_readers(turn):
        return turn.render("report", "egen_unread",
                           org_name=turn.services.config.organisation_name(turn.actor.org_key))
    return None


async def _edit_menu(turn: Turn) -> Screen:
    buttons = [Button(STEP_TITLES[s].capitalize(), "g", s) for s in flow.EDITABLE_STEPS]
    rows = [*in_rows(buttons, 3), [Button(labels.BACK, "g", flow.SUMMARY)]]
    data = draft_of(turn)
    text = turn.render("report", "edit_menu", d=view_model(turn.services, data),
                       notice=await _egen_unread(turn, data), editing=data.editing_reference)
    # Changing a sent report starts here: "Avbryt" leaves the report as it was.
    return Screen(text, rows, cancel=data.editing_report_id is not None)


# ---------------------------------------------------------------- answers

async def choose(turn: Turn, action: str, arg: str) -> Next:
    """A press on a step: est.report_draft.choose checks it against the config."""
    data = draft_of(turn)
    try:
        step = flow.choose(data, turn.step, action, arg or None, config=turn.services.config,
                           org_kind=turn.actor.org_kind, now=turn.now)
    except InvalidChoice as problem:
        raise Invalid(str(problem)) from problem
    step = await arrive(turn, data, step)
    keep(turn, data)
    return step


async def on_summary(turn: Turn, action: str, arg: str) -> Next:
    if action == "ok":
        return await submit(turn)
    if action == "ed":
        return EDIT_MENU
    return await choose(turn, action, arg)


async def on_edit_menu(turn: Turn, action: str, arg: str) -> Next:
    if action == "g" and arg == flow.SUMMARY:
        return flow.SUMMARY
    turn.row.step = flow.SUMMARY  # the menu chooses a step as the summary would
    return await choose(turn, action, arg)


async def submit(turn: Turn) -> Next:
    services, data = turn.services, draft_of(turn)
    missing = flow.first_missing_step(data)
    if missing is not None:
        turn.toast = turn.render("report", "missing", step_title=STEP_TITLES[missing])
        data.reviewing = True
        keep(turn, data)
        return missing
    if data.editing_report_id is not None:
        original = await turn.session.get(Report, data.editing_report_id)
        if original is None or not flow.editable(original.received_at, original.withdrawn_at,
                                                 turn.now, services.config):
            window = services.config.reporting.edit_window_minutes
            turn.toast = turn.render("report", "too_late", window=window)
            return Finish(turn.toast, cancelled=True)
        if flow.unchanged(data, await draft_from_report(turn.session, original)):
            return Finish(turn.render("report", "unchanged", reference=original.reference),
                          cancelled=True)
    report = await commit_report(turn)
    return Finish(receipt(turn, report))


async def commit_report(turn: Turn) -> Report:
    """Store the dialog as a report (exactly once); the engine commits, then shows."""
    member = await turn.session.get(Member, turn.actor.member_id)
    now = turn.now
    report = await store.submit_draft(turn.session, turn.row, member, now=now,
                                      year=now.astimezone(turn.services.config.tz).year)
    services, bot, report_id = turn.services, turn.bot, report.id
    # Alerts and suggestions run after the reporter has the receipt.
    turn.after.append(lambda: after_report(services, bot, report_id))
    return report


def receipt(turn: Turn, report: Report) -> str:
    data = draft_of(turn)
    return turn.render("report", "receipt", reference=report.reference,
                       d=view_model(turn.services, data),
                       edited=data.editing_report_id is not None)


async def when_done(turn: Turn) -> Screen | None:
    """"Skicka" pressed again, or replayed after a crash: the same report, the receipt again."""
    report = await store.report_of_draft(turn.session, turn.row)
    if report is None:
        return None
    turn.toast = turn.render("report", "already_sent", reference=report.reference)
    return Screen(receipt(turn, report), cancel=False)


async def draft_from_report(session, report: Report, **extra) -> ReportDraft:
    """A sent report as a draft: what "Ändra" starts from and compares with."""
    categories = (await store.categories_of(session, [report.id]))[report.id]
    return ReportDraft(area=report.area_key, place_key=report.place_key,
                       place_name=report.place_name, lat=report.lat, lon=report.lon,
                       categories=categories, people=report.people,
                       occurred_at=report.occurred_at.isoformat(), severity=report.severity,
                       text=report.text, sharing=report.sharing, **extra)


async def typed_place(turn: Turn, text: str) -> Next:
    checked = check_free_text(flow.clean_place_name(text), max_len=flow.MAX_PLACE_NAME)
    if not checked.ok:
        turn.delete_incoming = True
        raise Invalid(checked.problem)
    data = draft_of(turn)
    data.clear_place()
    data.place_name, turn.notice = checked.text, checked.notice
    keep(turn, data)
    return flow.next_step(data, flow.PLACE)


async def shared_location(turn: Turn, lat: float, lon: float) -> Next:
    """A location outside the deployment is refused (est.geo); near a known place it is
    that place."""
    data = draft_of(turn)
    config = turn.services.config
    step = flow.place_from_location(data, lat, lon, config=config)
    if step is None:
        raise Invalid(turn.render("report", "location_outside", kommun=config.kommun))
    keep(turn, data)
    return step


async def typed_time(turn: Turn, text: str) -> Next:
    """Times as people type them (est.report_draft.read_time); a time later than now is
    yesterday's, and the reporter is told so at once."""
    read = flow.read_time(text, turn.services.local_now())
    if isinstance(read, str):
        raise Invalid(read)
    data = draft_of(turn)
    flow.set_typed_time(data, read, turn.now.tzinfo)
    if read.later_than_now:
        turn.notice = turn.render("report", "later_than_now",
                                  clock=turn.services.messages.clock(read.when))
    keep(turn, data)
    return flow.next_step(data, flow.WHEN)


async def typed_description(turn: Turn, text: str) -> Next:
    # The reporter's own message leaves the chat: the text lives in the draft (masked),
    # or is refused and kept nowhere. A text over the limit stays in the chat until the
    # reporter has chosen to keep its beginning or to write a shorter one.
    checked = check_free_text(text, max_len=MAX_TYPED)
    if not checked.ok:
        turn.delete_incoming = True
        raise Invalid(turn.render("report", "text_refused", problem=checked.problem))
    data = draft_of(turn)
    max_len = turn.services.config.reporting.free_text_max
    if len(checked.text) > max_len:
        earlier = data.pending_message_id
        flow.keep_long_text(data, checked.text, max_len, turn.incoming_message_id)
        if earlier is not None and earlier != data.pending_message_id:
            delete_later(turn, earlier)
        turn.notice = checked.notice
        keep(turn, data)
        return flow.TEXT_LONG
    turn.delete_incoming = True
    if data.pending_message_id is not None:  # the long one this text replaces
        delete_later(turn, data.pending_message_id)
        data.pending_message_id = None
    data.clear_pending_text()
    data.text, data.text_skipped, turn.notice = checked.text, False, checked.notice
    step = await arrive(turn, data, flow.next_step(data, flow.TEXT))
    keep(turn, data)
    return step


def back_from(step: str):
    def back(turn: Turn) -> str:
        target = flow.previous_step(draft_of(turn), step)
        after_turn(turn, step, target)
        return target
    return back


# ---------------------------------------------------------------- around every turn
#
# Two things outlive a step: the reply keyboard with "📍 Dela min position" (a message of
# its own, as Telegram wants it, offered while a place step is on screen) and a long
# description kept in the chat until the reporter has chosen. Both are settled after
# every turn that touches them, once the turn is committed.

def tracked(handler):
    """A step function that settles the position keyboard and a kept message after it."""
    async def run(turn: Turn, *args) -> Next:
        before = turn.step
        outcome = await handler(turn, *args)
        after_turn(turn, before, outcome if isinstance(outcome, str) else None)
        return outcome
    return run


def after_turn(turn: Turn, before: str, step: str | None) -> None:
    """``step`` is where the dialog goes; None when it ends."""
    data = draft_of(turn)
    if data.pending_message_id is not None and step not in (flow.TEXT, flow.TEXT_LONG):
        delete_later(turn, data.pending_message_id)
        data.pending_message_id = None
        data.clear_pending_text()
        keep(turn, data)
    if before in flow.POSITION_STEPS or step in flow.POSITION_STEPS \
            or data.location_prompt is not None:
        services, bot, dialog_id, chat_id = turn.services, turn.bot, turn.row.id, turn.row.chat_id
        turn.after.append(lambda: sync_position_keyboard(services, bot, dialog_id, chat_id))


def cancelled(turn: Turn) -> str:
    after_turn(turn, turn.step, None)
    reference = draft_of(turn).editing_reference
    if reference:
        return turn.render("report", "edit_cancelled", reference=reference)
    return turn.render("report", "cancelled")


def delete_later(turn: Turn, message_id: int) -> None:
    bot, chat_id = turn.bot, turn.row.chat_id
    turn.after.append(lambda: delete_message(bot, chat_id, message_id))


async def delete_message(bot, chat_id: int, message_id: int) -> None:
    try:
        await bot.delete_message(chat_id, message_id)
    except (BadRequest, Forbidden) as exc:  # too old, already gone: nothing to tidy
        log.info("could not delete message %s: %s", message_id, exc)


def position_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup([[KeyboardButton(labels.SHARE_POSITION, request_location=True)]],
                               resize_keyboard=True, one_time_keyboard=True)


def _wants_keyboard(row: Dialog | None) -> bool:
    return row is not None and row.status == dialog_store.OPEN \
        and row.step in flow.POSITION_STEPS


async def sync_position_keyboard(services, bot, dialog_id: int, chat_id: int) -> None:
    """Offer the one-tap position keyboard while the dialog is at a place step, and take
    it away (by deleting its message) once it is not. Telegram is never called with a
    transaction open; the keyboard's message id is kept in the dialog's data."""
    async with services.db.session() as session:
        row = await session.get(Dialog, dialog_id)
        wants = _wants_keyboard(row)
        prompt = (row.data or {}).get("location_prompt") if row is not None else None
        await session.rollback()
    if wants and prompt is None:
        message = await bot.send_message(chat_id, services.render("report", "position_prompt"),
                                         reply_markup=position_keyboard())
        async with services.db.session() as session:
            row = await dialog_store.lock_dialog(session, dialog_id)
            kept = _wants_keyboard(row) and not (row.data or {}).get("location_prompt")
            if kept:
                row.data = {**row.data, "location_prompt": message.message_id}
                flag_modified(row, "data")
                session.add(row)
            await session.commit()
        if not kept:  # the dialog moved on meanwhile, or another turn offered it already
            await delete_message(bot, chat_id, message.message_id)
    elif not wants and prompt is not None:
        async with services.db.session() as session:
            row = await dialog_store.lock_dialog(session, dialog_id)
            if row is not None and (row.data or {}).get("location_prompt") == prompt:
                row.data = {**row.data, "location_prompt": None}
                flag_modified(row, "data")
                session.add(row)
            await session.commit()
        await delete_message(bot, chat_id, prompt)


def _choices(mapping: dict, action: str):
    return lambda _turn: [Button(label, action, str(key)) for key, label in mapping.items()]


_press, _place_text, _time_text = tracked(choose), tracked(typed_place), tracked(typed_time)
_description, _location = tracked(typed_description), tracked(shared_location)

DIALOG = DialogSpec(
    kind=KIND,
    first_step=flow.AREA,
    replaces=(store.REPORT, store.CALM),
    cancelled=cancelled,
    ended=("report", "ended"),
    when_done=when_done,
    steps={
        flow.AREA: Step(_simple(flow.AREA, _areas, 2, back=False), press=_press),
        flow.PLACE: Step(_simple(flow.PLACE, _places, 2,
                                 [[Button(labels.OTHER_PLACE, "pt")]]),
                         press=_press, text=_place_text, location=_location,
                         back=back_from(flow.PLACE)),
        flow.PLACE_TEXT: Step(_simple(flow.PLACE_TEXT, lambda _t: [], 1, wants_text=True),
                              press=_press, text=_place_text, location=_location,
                              back=back_from(flow.PLACE_TEXT)),
        flow.PLACE_AREA: Step(_place_area, press=_press, back=back_from(flow.PLACE_AREA)),
        flow.WHAT: Step(_what, press=_press, back=back_from(flow.WHAT)),
        flow.PEOPLE: Step(_simple(flow.PEOPLE, _choices(flow.PEOPLE_CHOICES, "n"), 3),
                          press=_press, back=back_from(flow.PEOPLE)),
        flow.WHEN: Step(_simple(flow.WHEN, _choices(flow.WHEN_CHOICES, "w"), 2,
                                [[Button(labels.TYPE_TIME, "wt")]]),
                        press=_press, back=back_from(flow.WHEN)),
        flow.WHEN_TEXT: Step(_simple(flow.WHEN_TEXT, lambda _t: [], 1, wants_text=True),
                             press=_press, text=_time_text, back=back_from(flow.WHEN_TEXT)),
        flow.SEVERITY: Step(_simple(flow.SEVERITY, _choices(flow.SEVERITY_CHOICES, "s"), 2),
                            press=_press, back=back_from(flow.SEVERITY)),
        flow.TEXT: Step(_text, press=_press, text=_description, back=back_from(flow.TEXT)),
        flow.TEXT_LONG: Step(_text_long, press=_press, text=_description,
                             back=back_from(flow.TEXT_LONG)),
        flow.SHARING: Step(_sharing, press=_press, back=back_from(flow.SHARING)),
        flow.SUMMARY: Step(_summary, press=tracked(on_summary)),
        EDIT_MENU: Step(_edit_menu, press=tracked(on_edit_menu)),
    },
)


async def open_position_prompts(session, member_id: int, chat_id: int) -> list[int]:
    """Position keyboards of the member's report dialogs still open in the chat: a new
    report (or /lugnt, or changing a sent report) replaces those dialogs."""
    return [r.data["location_prompt"]
            for r in await dialog_store.open_in_chat(session, member_id, chat_id)
            if r.kind == KIND and (r.data or {}).get("location_prompt")]


async def earlier_choices(services, actor, chat_id: int) -> tuple[str | None, list[int]]:
    """The member's last delning, and the position keyboards a new report replaces."""
    async with services.db.session() as session:
        last = await report_usage.last_sharing(session, actor.member_id,
                                               services.config.calm_category.key)
        prompts = await open_position_prompts(session, actor.member_id, chat_id)
        await session.rollback()
    return last, prompts


async def start_report(update: Update, context: BotContext) -> None:
    """``/rapport``: a new report dialog, with the reporter's last delning chosen; a
    replayed command shows the one it made."""
    chat_id = update.effective_chat.id
    last, prompts = await earlier_choices(context.services, context.member, chat_id)
    draft = ReportDraft()
    flow.preselect_sharing(draft, last)
    await context.dialogs.start(update, context, KIND, data=draft.to_json())
    for prompt in prompts:
        await delete_message(context.bot, chat_id, prompt)


async def location_anywhere(update: Update, context: BotContext) -> None:
    """A position shared in the private chat. A dialog that takes it (or an open report)
    gets it as usual; otherwise it starts a report at that place."""
    engine, services, actor = context.dialogs, context.services, context.actor
    chat_id = update.effective_chat.id
    if actor is None:
        return  # the gatekeeper has answered
    def takes_position(row: Dialog) -> bool:
        step = engine.specs[row.kind].steps.get(row.step)
        return row.kind == KIND or (step is not None and step.location is not None)

    async with services.db.session() as session:
        rows = await dialog_store.open_in_chat(session, actor.member_id, chat_id)
        busy = any(takes_position(r) for r in rows if r.kind in engine.specs)
        await session.rollback()
    if busy:
        await engine.on_location(update, context)
        return
    location = update.effective_message.location
    last, _ = await earlier_choices(services, actor, chat_id)
    started = flow.start_at_position(location.latitude, location.longitude,
                                     config=services.config, sharing=last)
    if started is None:
        await send(update, services.render("report", "location_outside_start",
                                           kommun=services.config.kommun))
        return
    draft, step = started
    await engine.start(update, context, KIND, data=draft.to_json(), step=step)


def build_report_handlers() -> list[BaseHandler]:
    # Before the dialog engine's own location handler (same group): a position outside a
    # dialog is a report, not "nothing open".
    position = filters.UpdateType.MESSAGE & filters.LOCATION & filters.ChatType.PRIVATE
    return [CommandHandler("rapport", start_report, filters=filters.ChatType.PRIVATE),
            MessageHandler(position, location_anywhere)]
