"""The guided report, ``/rapport``, declared for the dialog engine.

The order of the steps, the allowed values and what a finished report holds
are decided in ``est.report_draft``; this module only says how each step is
shown and which est function a press or a typed answer goes to. The report
is stored by ``storage.reports.submit_draft`` exactly once, inside the turn's
transaction, and the engine shows the receipt only after the commit.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from bot.features.levels.alerts import after_report
from est import report_draft as flow
from est.privacy import check_free_text
from est.report_draft import InvalidChoice, ReportDraft
from est.visibility import egen_readers
from messages import labels
from storage import outbox
from storage import reports as store
from storage.models import Member, Report

KIND = store.REPORT
EDIT_MENU = "edit"  # a pseudo-step: the "Ändra" menu on the summary
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
        place = f"delad position ({data.lat:.4f}, {data.lon:.4f})"
    occurred = data.occurred()
    when = None
    if occurred is not None:
        when = services.messages.date_time(occurred)
        if data.when_label:
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


def _what(turn: Turn) -> Screen:
    data = draft_of(turn)
    rows = []
    for category in flow.reportable_categories(turn.services.config, turn.actor.org_kind):
        on = category.key in data.categories
        mark = labels.SELECTED if on else labels.UNSELECTED
        rows.append([Button(mark + category.label, "c", f"{category.key}.{0 if on else 1}")])
    rows.append([Button(labels.DONE, "cd")])
    d = view_model(turn.services, data)
    return Screen(turn.render("report", flow.WHAT, d=d), rows, back=True)


def _text(turn: Turn) -> Screen:
    d = view_model(turn.services, draft_of(turn))
    text = turn.render("report", "text", d=d,
                       max_len=turn.services.config.reporting.free_text_max)
    return Screen(text, [[Button(labels.SKIP, "ts")]], back=True, wants_text=True)


async def _sharing(turn: Turn) -> Screen:
    """Förmedlad or egen; told when an egen report would be read by nobody."""
    d = view_model(turn.services, draft_of(turn))
    text = turn.render("report", flow.SHARING, d=d,
                       org_name=turn.services.config.organisation_name(turn.actor.org_key),
                       nobody_reads_egen=not await egen_has_readers(turn))
    return Screen(text, in_rows(_choices(flow.SHARING_CHOICES, "d")(turn), 1), back=True)


async def _summary(turn: Turn) -> Screen:
    data = draft_of(turn)
    notice = None
    if data.sharing != flow.FORMEDLAD and not await egen_has_readers(turn):
        notice = turn.render("report", "egen_unread",
                             org_name=turn.services.config.organisation_name(turn.actor.org_key))
    text = turn.render("report", "summary", d=view_model(turn.services, data),
                       notice=notice, editing=data.editing_reference)
    rows = [[Button(labels.SEND, "ok")], [Button(labels.CHANGE, "ed")]]
    return Screen(text, rows)  # "Avbryt" is the engine's, under "Ändra"


def _edit_menu(turn: Turn) -> Screen:
    buttons = [Button(STEP_TITLES[s].capitalize(), "g", s) for s in flow.EDITABLE_STEPS]
    rows = [*in_rows(buttons, 3), [Button(labels.BACK, "g", flow.SUMMARY)]]
    d = view_model(turn.services, draft_of(turn))
    return Screen(turn.render("report", "edit_menu", d=d), rows, cancel=False)


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
    moment = flow.parse_clock_time(text, turn.services.local_now())
    if isinstance(moment, str):
        raise Invalid(moment)
    data = draft_of(turn)
    data.occurred_at, data.when_label = moment.astimezone(turn.now.tzinfo).isoformat(), None
    keep(turn, data)
    return flow.next_step(data, flow.WHEN)


async def typed_description(turn: Turn, text: str) -> Next:
    # The reporter's own message leaves the chat either way: the text lives in
    # the draft (masked), or is refused and kept nowhere.
    turn.delete_incoming = True
    checked = check_free_text(text, max_len=turn.services.config.reporting.free_text_max)
    if not checked.ok:
        raise Invalid(turn.render("report", "text_refused", problem=checked.problem))
    data = draft_of(turn)
    data.text, data.text_skipped, turn.notice = checked.text, False, checked.notice
    step = await arrive(turn, data, flow.next_step(data, flow.TEXT))
    keep(turn, data)
    return step


def back_from(step: str):
    def back(turn: Turn) -> str:
        return flow.previous_step(draft_of(turn), step)
    return back


def _choices(mapping: dict, action: str):
    return lambda _turn: [Button(label, action, str(key)) for key, label in mapping.items()]


DIALOG = DialogSpec(
    kind=KIND,
    first_step=flow.AREA,
    replaces=(store.REPORT, store.CALM),
    cancelled=lambda turn: turn.render("report", "cancelled"),
    ended=("report", "ended"),
    when_done=when_done,
    steps={
        flow.AREA: Step(_simple(flow.AREA, _areas, 2, back=False), press=choose),
        flow.PLACE: Step(_simple(flow.PLACE, _places, 2,
                                 [[Button(labels.OTHER_PLACE, "pt")]]),
                         press=choose, text=typed_place, location=shared_location,
                         back=back_from(flow.PLACE)),
        flow.PLACE_TEXT: Step(_simple(flow.PLACE_TEXT, lambda _t: [], 1, wants_text=True),
                              press=choose, text=typed_place, location=shared_location,
                              back=back_from(flow.PLACE_TEXT)),
        flow.WHAT: Step(_what, press=choose, back=back_from(flow.WHAT)),
        flow.PEOPLE: Step(_simple(flow.PEOPLE, _choices(flow.PEOPLE_CHOICES, "n"), 3),
                          press=choose, back=back_from(flow.PEOPLE)),
        flow.WHEN: Step(_simple(flow.WHEN, _choices(flow.WHEN_CHOICES, "w"), 2,
                                [[Button(labels.TYPE_TIME, "wt")]]),
                        press=choose, back=back_from(flow.WHEN)),
        flow.WHEN_TEXT: Step(_simple(flow.WHEN_TEXT, lambda _t: [], 1, wants_text=True),
                             press=choose, text=typed_time, back=back_from(flow.WHEN_TEXT)),
        flow.SEVERITY: Step(_simple(flow.SEVERITY, _choices(flow.SEVERITY_CHOICES, "s"), 2),
                            press=choose, back=back_from(flow.SEVERITY)),
        flow.TEXT: Step(_text, press=choose, text=typed_description, back=back_from(flow.TEXT)),
        flow.SHARING: Step(_sharing, press=choose, back=back_from(flow.SHARING)),
        flow.SUMMARY: Step(_summary, press=on_summary),
        EDIT_MENU: Step(_edit_menu, press=on_edit_menu),
    },
)


async def start_report(update: Update, context: BotContext) -> None:
    """``/rapport``: a new report dialog; a replayed command shows the one it made."""
    await context.dialogs.start(update, context, KIND, data=ReportDraft().to_json())


def build_report_handlers() -> list[BaseHandler]:
    return [CommandHandler("rapport", start_report, filters=filters.ChatType.PRIVATE)]
