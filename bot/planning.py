"""Upcoming events, insatser, uppföljning and återkoppling (EST steps 3–5).

- ``/handelse`` lists the coming events and known risk days and registers a new event.
- ``/insats`` lists planned and running insatser, changes their status and registers
  a new one. An insats at a known place thanks the people who reported from there
  (återkoppling, ``send_feedback``); ``/aterkoppling av|pa`` turns that off and on.
- ``ask_for_followups`` asks the coordinator who registered an insats, once, how it
  went after it ended; ``schedule_followups`` runs it every ten minutes.

The dialogs are written on every step to a ``report_drafts`` row of their own status
(see storage.planning for why), so a restart continues where the coordinator was and a
replayed update changes nothing twice. Callback data: ``pd:<row>:<action>[:<arg>]``
(dialog), ``pn:e|i`` (start a dialog), ``ps:<insats>:<status>[:y]`` (status) and
``pf:<insats>:<effect>`` (uppföljning). Every press is checked again on the server:
role, owner, keys against the config.

Typed text: ``consume_text`` takes a private text when the member's most recently
used open dialog is a planning dialog, and returns False otherwise so that another
dialog (the report) can have it. ``on_text`` does exactly that in front of the report
dialog; it only gets text when registered before the report handlers.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, date, datetime, time, timedelta

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot import report_dialog
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
from est import planning as plan
from est.planning import (
    EFFECTS,
    EVENT,
    FOLLOWUP,
    FU_COMMENT,
    INSATS,
    DateProblem,
    PlanDraft,
)
from est.privacy import check_free_text
from messages import labels
from storage import planning as store
from storage.models import Insats, Member, ReportDraft

log = logging.getLogger(__name__)

DIALOG, NEW, STATUS, FOLLOW = "pd", "pn", "ps", "pf"
TEMPLATE = "planning"
WHOLE = "-"  # the "Hela kommunen" / "Hela området" choice in callback data
FOLLOWUP_INTERVAL_SECONDS = 600
# A planning dialog nobody touched for this long no longer takes typed text.
TEXT_TTL = timedelta(hours=12)
EVENTS_SHOWN, RISK_SHOWN, INSATSER_SHOWN = 10, 12, 6  # within 4096 characters

NEW_EVENT, NEW_INSATS, SAVE = "➕ Ny händelse", "➕ Ny insats", "✅ Spara"
WHOLE_KOMMUN, WHOLE_AREA = "Hela kommunen", "Hela området"
TYPE_WHEN, TYPE_TIME, TYPE_PERIOD = "Skriv datum och tid", "Skriv tid", "Skriv period"
STATUS_BUTTONS = {plan.RUNNING: "▶ Starta", plan.DONE: "✔ Klar", plan.CANCELLED: "✖ Ställ in"}
CONFIRM_CANCEL, KEEP = "Ja, ställ in", "Nej, behåll"


class InvalidChoice(Exception):
    """A press that does not fit the step; the message is Swedish."""


# ---------------------------------------------------------------- presentation

def _area_name(services: Services, area_key: str | None) -> str:
    if area_key is None:
        return WHOLE_KOMMUN
    area = services.config.area(area_key)
    return area.name if area else area_key


def _place_name(services: Services, area_key: str, place_key: str | None,
                place_name: str | None) -> str | None:
    if place_key:
        place = services.config.place(area_key, place_key)
        return place.name if place else place_key
    return place_name


def _org_name(services: Services, org_key: str | None) -> str | None:
    if org_key is None:
        return None
    org = services.config.organisation(org_key)
    return org.name if org else org_key


def _local(services: Services, moment: datetime) -> datetime:
    return moment.astimezone(services.config.tz)


def _period(services: Services, start: datetime, end: datetime) -> str:
    return plan.format_period(_local(services, start), _local(services, end))


def view(services: Services, draft: PlanDraft) -> dict:
    """The draft in words, for the templates."""
    area_name = None
    if draft.area is not None or draft.whole_kommun:
        area_name = _area_name(services, draft.area)
    place = None
    if draft.area:
        place = _place_name(services, draft.area, draft.place_key, draft.place_name)
    if place is None and draft.whole_area:
        place = WHOLE_AREA
    start, end = draft.start(), draft.end()
    day = date.fromisoformat(draft.day) if draft.day else None
    return {
        "kind": draft.kind,
        "area_name": area_name,
        "place": place,
        "what": draft.what,
        "day": plan.day_label(day) if day else None,
        "hours": plan.event_hour_choices(day, services.local_now()) if day else [],
        "when": plan.format_moment(_local(services, start)) if start else None,
        "period": _period(services, start, end) if start and end else None,
        "org_name": _org_name(services, draft.org),
        "feedback": bool(draft.place_key),
        "insats_id": draft.insats_id,
        "what_max": plan.EVENT_TITLE_MAX if draft.kind == EVENT else plan.INSATS_WHAT_MAX,
        "place_max": plan.PLACE_NAME_MAX,
        "comment_max": plan.FOLLOWUP_COMMENT_MAX,
        "effect": EFFECTS.get(draft.effect or ""),
    }


def insats_view(services: Services, insats: Insats) -> dict:
    now = services.now()
    status = plan.effective_status(insats.status, insats.starts_at, insats.ends_at, now)
    return {
        "id": insats.id,
        "status": status,
        "status_label": plan.STATUS_LABELS.get(status, status),
        "area_name": _area_name(services, insats.area_key),
        "place": _place_name(services, insats.area_key, insats.place_key, insats.place_name),
        "what": insats.what,
        "org_name": _org_name(services, insats.org_key),
        "period": _period(services, insats.starts_at, insats.ends_at),
    }


def _nav(row_id: int, back: bool = True) -> list[tuple[str, str]]:
    buttons = [(labels.BACK, callback(DIALOG, row_id, "b"))] if back else []
    return [*buttons, (labels.CANCEL, callback(DIALOG, row_id, "x"))]


def render_step(services: Services, row: ReportDraft, draft: PlanDraft, step: str,
                notice: str | None = None) -> tuple[str, InlineKeyboardMarkup]:
    """Text and keyboard of one step of one planning dialog."""
    config, i, d = services.config, row.id, view(services, draft)
    text = services.render(TEMPLATE, step, d=d)
    rows: list[list[tuple[str, str]]] = []
    if step in (plan.EV_AREA, plan.IN_AREA):
        rows = in_rows([(a.name, callback(DIALOG, i, "a", a.key)) for a in config.areas], 2)
        if step == plan.EV_AREA:
            rows.append([(WHOLE_KOMMUN, callback(DIALOG, i, "a", WHOLE))])
        rows.append(_nav(i, back=False))
    elif step == plan.EV_DAY:
        today = services.local_now().date()
        days = [(label, callback(DIALOG, i, "d", day.isoformat()))
                for day, label in plan.event_day_choices(today)]
        rows = [*in_rows(days, 2), [(TYPE_WHEN, callback(DIALOG, i, "dt"))], _nav(i)]
    elif step == plan.EV_TIME:
        hours = [(f"{h:02d}:00", callback(DIALOG, i, "t", h)) for h in d["hours"]]
        rows = [*in_rows(hours, 4), [(TYPE_TIME, callback(DIALOG, i, "tt"))], _nav(i)]
    elif step == plan.IN_PLACE:
        area = config.area(draft.area or "")
        places = [(p.name, callback(DIALOG, i, "p", p.key)) for p in (area.places if area else [])]
        rows = [*in_rows(places, 2), [(WHOLE_AREA, callback(DIALOG, i, "p", WHOLE))],
                [(labels.OTHER_PLACE, callback(DIALOG, i, "pt"))], _nav(i)]
    elif step == plan.IN_ORG:
        rows = [[(o.name, callback(DIALOG, i, "o", o.key))] for o in config.organisations]
        rows.append(_nav(i))
    elif step == plan.IN_PERIOD:
        rows = [[(label, callback(DIALOG, i, "w", key))]
                for key, label in plan.period_presets(services.local_now())]
        rows += [[(TYPE_PERIOD, callback(DIALOG, i, "wt"))], _nav(i)]
    elif step in (plan.EV_CONFIRM, plan.IN_CONFIRM):
        rows = [[(SAVE, callback(DIALOG, i, "ok"))], _nav(i)]
    elif step == FU_COMMENT:
        rows = [[(labels.SKIP, callback(DIALOG, i, "s"))]]
    else:  # typed steps
        rows = [_nav(i)]
    if notice:
        text = f"<i>{html.escape(notice)}</i>\n\n{text}"
    return text, keyboard(rows)


# ---------------------------------------------------------------- access

async def _coordinator(update: Update, context: BotContext) -> Actor | None:
    """The coordinator or admin behind the update; anyone else gets a refusal."""
    actor = context.actor
    if actor is not None and actor.is_coordinator:
        return actor
    text = context.services.render(TEMPLATE, "coordinators_only")
    if update.callback_query is not None:
        await answer(update, text, alert=True)
    else:
        await send(update, text)
    return None


# ---------------------------------------------------------------- /handelse

async def events_overview(services: Services) -> tuple[str, InlineKeyboardMarkup]:
    config, local = services.config, services.local_now()
    since = datetime.combine(local.date(), time(0), tzinfo=config.tz).astimezone(UTC)
    async with services.db.session() as session:
        events = await store.upcoming_events(
            session, since=since, until=since + timedelta(days=plan.EVENT_LIST_DAYS))
    items = [{"when": plan.format_moment(_local(services, e.starts_at)), "title": e.title,
              "area_name": _area_name(services, e.area_key)} for e in events]
    risk_days = plan.known_risk_days(
        local.date(), local.date() + timedelta(days=plan.RISK_LIST_DAYS),
        risk_dates=config.risk_dates, school_holidays=config.school_holidays)
    risk = [{"when": plan.day_label(r.first) + (f" – {plan.day_label(r.last)}"
                                                if r.is_period else ""),
             "names": ", ".join(r.names)} for r in risk_days[:RISK_SHOWN]]
    text = services.render(TEMPLATE, "events_overview", events=items[:EVENTS_SHOWN],
                           events_left_out=max(len(items) - EVENTS_SHOWN, 0),
                           days=plan.EVENT_LIST_DAYS, risk=risk, risk_days=plan.RISK_LIST_DAYS)
    return text, keyboard([[(NEW_EVENT, callback(NEW, "e"))]])


async def events_command(update: Update, context: BotContext) -> None:
    if await _coordinator(update, context) is None:
        return
    if context.args and context.args[0].lower() == "ny":
        await _start_dialog(update, context, EVENT)
        return
    await send(update, *await events_overview(context.services))


# ---------------------------------------------------------------- /insats

async def insats_overview(services: Services, notice: str | None = None
                          ) -> tuple[str, InlineKeyboardMarkup]:
    async with services.db.session() as session:
        insatser = await store.current_insatser(session, now=services.now())
    items = [insats_view(services, i) for i in insatser]
    rows = []
    for item in items[:INSATSER_SHOWN]:
        targets = plan.TRANSITIONS.get(item["status"], ())
        rows.append([(f"{STATUS_BUTTONS[t]} #{item['id']}", callback(STATUS, item["id"], t))
                     for t in targets])
    rows.append([(NEW_INSATS, callback(NEW, "i"))])
    text = services.render(TEMPLATE, "insats_overview", items=items[:INSATSER_SHOWN],
                           left_out=max(len(items) - INSATSER_SHOWN, 0), notice=notice)
    return text, keyboard(rows)


async def insats_command(update: Update, context: BotContext) -> None:
    if await _coordinator(update, context) is None:
        return
    if context.args and context.args[0].lower() == "ny":
        await _start_dialog(update, context, INSATS)
        return
    await send(update, *await insats_overview(context.services))


async def on_status_button(update: Update, context: BotContext) -> None:
    """``ps:<insats>:<target>[:y]``, or ``ps:list`` to show the list again."""
    if await _coordinator(update, context) is None:
        return
    services = context.services
    parts = (update.callback_query.data or "").split(":")
    if len(parts) < 3 or not parts[1].isdigit():
        await answer(update)
        await show(update, *await insats_overview(services))
        return
    insats_id, target, confirmed = int(parts[1]), parts[2], parts[3:] == ["y"]
    async with services.db.session() as session:
        insats = await store.lock_insats(session, insats_id)
        if insats is None:
            await answer(update, services.render(TEMPLATE, "unknown_insats"), alert=True)
            return
        current = plan.effective_status(insats.status, insats.starts_at, insats.ends_at,
                                        services.now())
        problem = plan.check_status_change(current, target)
        if problem is not None:
            await answer(update, problem, alert=True)
            await show(update, *await insats_overview(services))
            return
        if target == plan.CANCELLED and not confirmed:
            await answer(update)
            await show(update, services.render(TEMPLATE, "confirm_cancel",
                                               i=insats_view(services, insats)),
                       keyboard([[(CONFIRM_CANCEL, callback(STATUS, insats.id, target, "y")),
                                  (KEEP, callback(STATUS, "list"))]]))
            return
        insats.status = target
        session.add(insats)
        await session.commit()
    notice = services.render(TEMPLATE, "status_changed", id=insats_id,
                             status_label=plan.STATUS_LABELS[target])
    await answer(update, notice)
    await show(update, *await insats_overview(services, notice=notice))


# ---------------------------------------------------------------- dialogs

async def _start_dialog(update: Update, context: BotContext, kind: str) -> None:
    """A new /handelse or /insats dialog; a replayed update shows the one it made."""
    services, actor = context.services, context.member
    first = plan.EV_AREA if kind == EVENT else plan.IN_AREA
    async with services.db.session() as session:
        newest = await store.newest_dialog(session, actor.member_id)
        if newest is not None and newest.status == store.PLAN_OPEN \
                and newest.last_update_id >= update.update_id:
            row = newest  # this very update made it before a restart
        else:
            row = await store.open_dialog(session, member_id=actor.member_id,
                                          chat_id=update.effective_chat.id, step=first,
                                          draft=PlanDraft(kind=kind), now=services.now(),
                                          update_id=update.update_id)
        draft = PlanDraft.from_json(row.data)
        text, markup = render_step(services, row, draft, row.step)
        if update.callback_query is not None:
            await answer(update)
        message = await send(update, text, markup)
        row.message_id = message.message_id
        session.add(row)
        await session.commit()


async def on_new_button(update: Update, context: BotContext) -> None:
    """``pn:e`` / ``pn:i`` under the lists: start a new event or insats."""
    if await _coordinator(update, context) is None:
        return
    kind = {"e": EVENT, "i": INSATS}.get((update.callback_query.data or "").partition(":")[2])
    if kind is None:
        await answer(update, context.services.render(TEMPLATE, "ended"))
        return
    await _start_dialog(update, context, kind)


def _next_step(draft: PlanDraft) -> str:
    confirm = plan.EV_CONFIRM if draft.kind == EVENT else plan.IN_CONFIRM
    return plan.first_missing_step(draft) or confirm


def choose(services: Services, draft: PlanDraft, step: str, action: str,
           arg: str | None) -> str:
    """Apply one press to the draft and return the next step. Raises InvalidChoice.

    Every value is checked against the config and the clock: callback data is
    untrusted, and a button may be pressed long after it was shown.
    """
    config, local = services.config, services.local_now()
    if action == "b":
        return plan.previous_step(draft, step)
    if draft.kind == EVENT:
        if step == plan.EV_AREA and action == "a":
            if arg != WHOLE and config.area(arg or "") is None:
                raise InvalidChoice("Okänt område.")
            draft.set_area(None if arg == WHOLE else arg)
            return _next_step(draft)
        if step == plan.EV_DAY and action == "d":
            choices = {day.isoformat() for day, _ in plan.event_day_choices(local.date())}
            if arg not in choices:
                raise InvalidChoice("Den dagen kan inte väljas längre. Välj igen.")
            draft.day, draft.starts_at = arg, None
            return plan.EV_TIME
        if step == plan.EV_DAY and action == "dt":
            draft.day = None
            return plan.EV_WHEN_T
        if step == plan.EV_TIME and action == "tt":
            return plan.EV_WHEN_T
        if step == plan.EV_TIME and action == "t":
            if not draft.day or not (arg or "").isdigit() or int(arg) > 23:
                raise InvalidChoice("Okänd tid.")
            moment = datetime.combine(date.fromisoformat(draft.day), time(int(arg)),
                                      tzinfo=config.tz)
            if moment < local:
                raise InvalidChoice("Den tiden har redan varit.")
            draft.starts_at = moment.astimezone(UTC).isoformat()
            return _next_step(draft)
    elif draft.kind == INSATS:
        if step == plan.IN_AREA and action == "a":
            if config.area(arg or "") is None:
                raise InvalidChoice("Okänt område.")
            draft.set_area(arg)
            return _next_step(draft)
        if step == plan.IN_PLACE and action == "p":
            if arg == WHOLE:
                draft.clear_place()
                draft.whole_area = True
            elif config.place(draft.area or "", arg or "") is None:
                raise InvalidChoice("Okänd plats.")
            else:
                draft.clear_place()
                draft.place_key = arg
            return _next_step(draft)
        if step == plan.IN_PLACE and action == "pt":
            return plan.IN_PLACE_T
        if step == plan.IN_ORG and action == "o":
            if config.organisation(arg or "") is None:
                raise InvalidChoice("Okänd organisation.")
            draft.org = arg
            return _next_step(draft)
        if step == plan.IN_PERIOD and action == "w":
            period = plan.preset_period(arg or "", local)
            if period is None:
                raise InvalidChoice("Den perioden går inte att välja längre. Välj igen.")
            draft.starts_at, draft.ends_at = (m.astimezone(UTC).isoformat() for m in period)
            draft.period_label = plan.PERIOD_PRESETS[arg]
            return _next_step(draft)
        if step == plan.IN_PERIOD and action == "wt":
            return plan.IN_PERIOD_T
    raise InvalidChoice("Den knappen gäller inte längre.")


def _parse_dialog(data: str | None) -> tuple[int, str, str | None] | None:
    parts = (data or "").split(":")
    if len(parts) not in (3, 4) or parts[0] != DIALOG or not parts[1].isdigit():
        return None
    return int(parts[1]), parts[2], parts[3] if len(parts) == 4 else None


async def on_dialog_button(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.actor
    parsed = _parse_dialog(update.callback_query.data)
    if actor is None or parsed is None:
        await answer(update, services.render(TEMPLATE, "ended"))
        return
    row_id, action, arg = parsed
    async with services.db.session() as session:
        row = await store.lock_dialog(session, row_id)
        if row is None or row.member_id != actor.member_id:
            await answer(update, services.render(TEMPLATE, "ended"))
            return
        draft = PlanDraft.from_json(row.data)
        if draft.kind != FOLLOWUP and await _coordinator(update, context) is None:
            return
        if row.status == store.PLAN_DONE:
            await answer(update, services.render(TEMPLATE, "already_saved"))
            return
        if row.status != store.PLAN_OPEN:
            await answer(update, services.render(TEMPLATE, "ended"))
            return
        if update.update_id <= row.last_update_id:
            await answer(update)  # replayed after a restart: already applied
            await show(update, *render_step(services, row, draft, row.step))
            return
        now = services.now()
        if action == "x" or (action == "s" and draft.kind == FOLLOWUP):
            await _close(update, context, session, row, draft, cancelled=action == "x")
            return
        if action == "ok" and row.step in (plan.EV_CONFIRM, plan.IN_CONFIRM):
            missing = plan.first_missing_step(draft)
            if missing is None:
                await _save(update, context, session, row, draft)
                return
            step = missing
        else:
            try:
                step = choose(services, draft, row.step, action, arg)
            except InvalidChoice as problem:
                await answer(update, str(problem), alert=True)
                return
        store.save_dialog(row, step=step, draft=draft, update_id=update.update_id, now=now)
        row.message_id = update.callback_query.message.message_id
        session.add(row)
        await session.commit()
        await answer(update)
        await show(update, *render_step(services, row, draft, step))


async def _close(update: Update, context: BotContext, session, row: ReportDraft,
                 draft: PlanDraft, *, cancelled: bool) -> None:
    """Avbryt, or "Hoppa över" the comment of an uppföljning (the effect is kept)."""
    services = context.services
    status = store.PLAN_CANCELLED if cancelled else store.PLAN_DONE
    store.save_dialog(row, step=row.step, draft=draft, update_id=update.update_id,
                      now=services.now(), status=status)
    session.add(row)
    await session.commit()
    await answer(update)
    if draft.kind == FOLLOWUP:
        insats = await session.get(Insats, draft.insats_id)
        await show(update, services.render(
            TEMPLATE, "followup_saved", insats_id=draft.insats_id,
            effect=EFFECTS.get(insats.followup_effect or "", "–") if insats else "–",
            comment=insats.followup_comment if insats else None))
        return
    await show(update, services.render(TEMPLATE, "cancelled"))


async def _save(update: Update, context: BotContext, session, row: ReportDraft,
                draft: PlanDraft) -> None:
    """"Spara": the event or insats is made once; the dialog row remembers its id."""
    services, actor = context.services, context.member
    now = services.now()
    if draft.kind == EVENT:
        event = await store.add_event(session, area_key=draft.area, starts_at=draft.start(),
                                      title=draft.what, member_id=actor.member_id, now=now)
        draft.event_id = event.id
    else:
        insats = await store.add_insats(
            session, area_key=draft.area, place_key=draft.place_key,
            place_name=draft.place_name, what=draft.what, org_key=draft.org,
            starts_at=draft.start(), ends_at=draft.end(), created_by_member_id=actor.member_id,
            created_at=now)
        draft.insats_id = insats.id
    store.save_dialog(row, step=row.step, draft=draft, update_id=update.update_id, now=now,
                      status=store.PLAN_DONE)
    session.add(row)
    await session.commit()
    # Only now, with the row committed, does the coordinator get a receipt.
    await answer(update)
    macro = "event_saved" if draft.kind == EVENT else "insats_saved"
    await show(update, services.render(TEMPLATE, macro, d=view(services, draft)))
    if draft.kind == INSATS and draft.place_key:
        services.spawn(send_feedback(services, context.bot, draft.insats_id),
                       f"aterkoppling-{draft.insats_id}")


# ---------------------------------------------------------------- typed text

async def consume_text(update: Update, context: BotContext) -> bool:
    """Answer a typed private message if a planning dialog waits for it.

    True when the text was this module's (handled, refused or a replay); False when
    the member's most recently used open dialog is not a planning dialog, or the
    planning dialog was left alone for more than TEXT_TTL.
    """
    services, actor = context.services, context.actor
    message = update.effective_message
    if actor is None or message is None or not message.text \
            or update.effective_chat.type != ChatType.PRIVATE:
        return False
    async with services.db.session() as session:
        newest = await store.newest_dialog(session, actor.member_id)
        if newest is None or newest.status != store.PLAN_OPEN \
                or services.now() - newest.updated_at > TEXT_TTL:
            return False
        row = await store.lock_dialog(session, newest.id)
        if row is None or row.status != store.PLAN_OPEN:
            return False
        if update.update_id <= row.last_update_id:
            return True  # replayed: already applied
        draft = PlanDraft.from_json(row.data)
        if draft.kind != FOLLOWUP and not actor.is_coordinator:
            row.status = store.PLAN_CANCELLED  # the member is no longer a coordinator
            session.add(row)
            await session.commit()
            await send(update, services.render(TEMPLATE, "coordinators_only"))
            return True
        if row.step not in plan.TYPED_STEPS:
            await send(update, services.render(TEMPLATE, "use_buttons"))
            return True
        await _apply_text(update, context, session, row, draft, message)
    return True


async def _apply_text(update: Update, context: BotContext, session, row: ReportDraft,
                      draft: PlanDraft, message) -> None:
    services, step = context.services, row.step
    text, notice = message.text, None
    if step in (plan.EV_WHAT, plan.IN_WHAT, plan.IN_PLACE, plan.IN_PLACE_T, FU_COMMENT):
        limit = {plan.EV_WHAT: plan.EVENT_TITLE_MAX, plan.IN_WHAT: plan.INSATS_WHAT_MAX,
                 FU_COMMENT: plan.FOLLOWUP_COMMENT_MAX}.get(step, plan.PLACE_NAME_MAX)
        cleaned = text.strip() if step == FU_COMMENT else plan.clean_text(text)
        checked = check_free_text(cleaned, max_len=limit)
        if not checked.ok or checked.notice:
            # A personnummer or contact details leave the chat; the masked text is kept.
            await delete_quietly(message)
        if not checked.ok:
            await send(update, services.render(TEMPLATE, "text_refused",
                                               problem=checked.problem))
            return
        notice = checked.notice
        if step == FU_COMMENT:
            await _save_comment(update, context, session, row, draft, checked.text, notice)
            return
        if step in (plan.EV_WHAT, plan.IN_WHAT):
            draft.what = checked.text
        else:
            draft.clear_place()
            draft.place_name = checked.text
    else:
        local = services.local_now()
        try:
            if step in (plan.IN_PERIOD, plan.IN_PERIOD_T):
                start, end = plan.parse_period(text, local)
                draft.starts_at = start.astimezone(UTC).isoformat()
                draft.ends_at = end.astimezone(UTC).isoformat()
                draft.period_label = None
            else:
                default_day = date.fromisoformat(draft.day) \
                    if draft.day and step != plan.EV_DAY else None
                if step == plan.EV_DAY:
                    draft.day = None
                moment = plan.parse_moment(text, local, default_day=default_day)
                draft.starts_at = moment.astimezone(UTC).isoformat()
        except DateProblem as problem:
            await send(update, services.render(TEMPLATE, "date_refused", problem=str(problem)))
            return
    await _advance(update, context, session, row, draft, _next_step(draft), notice)


async def _advance(update: Update, context: BotContext, session, row: ReportDraft,
                   draft: PlanDraft, step: str, notice: str | None) -> None:
    """A typed answer: save, retire the old dialog message, show the next step anew."""
    services = context.services
    old_message_id = row.message_id
    store.save_dialog(row, step=step, draft=draft, update_id=update.update_id,
                      now=services.now())
    session.add(row)
    await session.commit()
    await drop_keyboard(context.bot, row.chat_id, old_message_id)
    message = await send(update, *render_step(services, row, draft, step, notice))
    row.message_id = message.message_id
    session.add(row)
    await session.commit()


async def on_text(update: Update, context: BotContext) -> None:
    """Private text: a planning dialog's if it is the newest, else the report dialog's."""
    if not await consume_text(update, context):
        await report_dialog.on_text(update, context)


def planning_text_handler() -> MessageHandler:
    """The typed-text route; must come before the report dialog's text handler."""
    return MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, on_text)


# ---------------------------------------------------------------- uppföljning

async def ask_for_followups(services: Services, bot) -> int:
    """Ask, once, for the uppföljning of every insats that is over. Returns how many asked.

    The question goes to the member who registered the insats. A paused or inactive
    member is asked when they are back; the claim (followup_asked_at) is committed
    before sending, so two processes never both ask. A 403 marks the member inactive;
    another failure to send releases the claim for the next run.
    """
    now = services.now()
    async with services.db.session() as session:
        due = await store.followups_due(session, now)
    asked = 0
    for insats in due:
        async with services.db.session() as session:
            member = None
            if insats.created_by_member_id is not None:
                member = await session.get(Member, insats.created_by_member_id)
            if member is not None and (not member.active or member.paused):
                continue
            if not await store.claim_followup(session, insats.id, now):
                continue
            await session.commit()
        if member is None:
            continue
        item = insats_view(services, insats)
        markup = keyboard([[(label, callback(FOLLOW, insats.id, key))
                            for key, label in EFFECTS.items()]])
        try:
            await bot.send_message(member.telegram_user_id,
                                   services.render(TEMPLATE, "followup_ask", i=item),
                                   parse_mode=ParseMode.HTML, reply_markup=markup)
        except Forbidden:
            async with services.db.session() as session:
                await store.mark_inactive(session, member.id)
                await session.commit()
            continue
        except TelegramError as exc:
            log.warning("uppföljning of insats %s not sent: %s", insats.id, exc)
            async with services.db.session() as session:
                row = await session.get(Insats, insats.id)
                row.followup_asked_at = None
                session.add(row)
                await session.commit()
            continue
        asked += 1
    return asked


async def on_followup_button(update: Update, context: BotContext) -> None:
    """``pf:<insats>:<effect>``: store the effect, then offer a comment."""
    services, actor = context.services, context.actor
    parts = (update.callback_query.data or "").split(":")
    if actor is None or len(parts) != 3 or not parts[1].isdigit() or parts[2] not in EFFECTS:
        await answer(update, services.render(TEMPLATE, "ended"))
        return
    insats_id, effect = int(parts[1]), parts[2]
    async with services.db.session() as session:
        insats = await store.lock_insats(session, insats_id)
        if insats is None:
            await answer(update, services.render(TEMPLATE, "unknown_insats"), alert=True)
            return
        if not actor.is_coordinator and insats.created_by_member_id != actor.member_id:
            await _coordinator(update, context)
            return
        if insats.followup_asked_at is None:
            await answer(update, services.render(TEMPLATE, "followup_not_asked"), alert=True)
            return
        now = services.now()
        insats.followup_effect, insats.followed_up_at = effect, now
        insats.followup_by_member_id = actor.member_id
        session.add(insats)
        draft = PlanDraft(kind=FOLLOWUP, insats_id=insats.id, effect=effect)
        row = await store.open_dialog(session, member_id=actor.member_id,
                                      chat_id=update.effective_chat.id, step=FU_COMMENT,
                                      draft=draft, now=now, update_id=update.update_id)
        row.message_id = update.callback_query.message.message_id
        await session.commit()
        await answer(update)
        await show(update, *render_step(services, row, draft, FU_COMMENT))


async def _save_comment(update: Update, context: BotContext, session, row: ReportDraft,
                        draft: PlanDraft, comment: str, notice: str | None) -> None:
    services = context.services
    insats = await store.lock_insats(session, draft.insats_id or 0)
    if insats is None:
        await send(update, services.render(TEMPLATE, "unknown_insats"))
        return
    insats.followup_comment = comment
    insats.followed_up_at = services.now()
    insats.followup_by_member_id = context.member.member_id
    session.add(insats)
    store.save_dialog(row, step=row.step, draft=draft, update_id=update.update_id,
                      now=services.now(), status=store.PLAN_DONE)
    session.add(row)
    await session.commit()
    await drop_keyboard(context.bot, row.chat_id, row.message_id)
    text = services.render(TEMPLATE, "followup_saved", insats_id=insats.id,
                           effect=EFFECTS.get(insats.followup_effect or "", "–"),
                           comment=comment)
    if notice:
        text = f"<i>{html.escape(notice)}</i>\n\n{text}"
    await send(update, text)


async def _followup_job(context: BotContext) -> None:
    asked = await ask_for_followups(context.application.bot_data["services"], context.bot)
    if asked:
        log.info("asked for uppföljning of %s insatser", asked)


def schedule_followups(application: Application) -> None:
    """Check for ended insatser every ten minutes; call once from bot/app.py.

    The database decides what is due (followup_asked_at), so a run missed while the
    bot was down is made up by the first run after start.
    """
    application.job_queue.run_repeating(
        _followup_job, interval=FOLLOWUP_INTERVAL_SECONDS, first=60, name="uppfoljning",
        job_kwargs={"misfire_grace_time": 300, "coalesce": True, "max_instances": 1},
    )


# ---------------------------------------------------------------- återkoppling

async def send_feedback(services: Services, bot, insats_id: int) -> int:
    """Thank the reporters of the insats's place; returns how many were sent.

    Each reporter once, whatever the number of reports; only non-withdrawn reports of
    the last FEEDBACK_WINDOW; never to paused, inactive or opted-out members, nor to
    the coordinator who registered it. The text says what is done, where, when and by
    which organisation: no names, nothing of anyone's report.
    """
    now = services.now()
    async with services.db.session() as session:
        insats = await session.get(Insats, insats_id)
        if insats is None or insats.place_key is None or insats.status == plan.CANCELLED:
            return 0
        candidates = await store.feedback_candidates(
            session, area_key=insats.area_key, place_key=insats.place_key,
            since=now - plan.FEEDBACK_WINDOW)
        recipients = plan.feedback_recipients(candidates, now=now,
                                              exclude_member_id=insats.created_by_member_id)
        members = [await session.get(Member, member_id) for member_id in recipients]
    text = services.render(TEMPLATE, "feedback", i=insats_view(services, insats))
    sent = 0
    for member in members:
        try:
            await bot.send_message(member.telegram_user_id, text, parse_mode=ParseMode.HTML)
        except Forbidden:
            async with services.db.session() as session:
                await store.mark_inactive(session, member.id)
                await session.commit()
            continue
        except TelegramError as exc:
            log.warning("återkoppling to member %s not sent: %s", member.id, exc)
            continue
        sent += 1
    return sent


async def feedback_command(update: Update, context: BotContext) -> None:
    """``/aterkoppling``, ``/aterkoppling av``, ``/aterkoppling pa``."""
    services, actor = context.services, context.member
    choice = (context.args[0].lower() if context.args else "")
    async with services.db.session() as session:
        if choice in ("av", "off", "nej"):
            await store.set_feedback_opt_out(session, actor.member_id, True)
            await session.commit()
            await send(update, services.render(TEMPLATE, "feedback_off"))
            return
        if choice in ("pa", "på", "on", "ja"):
            await store.set_feedback_opt_out(session, actor.member_id, False)
            await session.commit()
            await send(update, services.render(TEMPLATE, "feedback_on"))
            return
        member = await session.get(Member, actor.member_id)
    await send(update, services.render(TEMPLATE, "feedback_status",
                                       opted_out=member.feedback_opt_out))


def build_planning_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("handelse", events_command, filters=private),
        CommandHandler("insats", insats_command, filters=private),
        CommandHandler("aterkoppling", feedback_command, filters=private),
        CallbackQueryHandler(on_dialog_button, pattern=rf"^{DIALOG}:"),
        CallbackQueryHandler(on_new_button, pattern=rf"^{NEW}:"),
        CallbackQueryHandler(on_status_button, pattern=rf"^{STATUS}:"),
        CallbackQueryHandler(on_followup_button, pattern=rf"^{FOLLOW}:"),
        planning_text_handler(),
    ]
