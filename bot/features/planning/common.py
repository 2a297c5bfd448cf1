"""What the planning dialogs share: how a draft and an insats are shown, and the steps.

The registration dialogs (/handelse ny, /insats ny) keep an ``est.planning.PlanDraft``
as their data; a press goes to ``est.planning.choose`` and typed text to
``est.planning.typed``, which check it and name the next step. The lists (/handelse,
/insats) are paged here so that every page fits one Telegram message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime

from telegram import Update

from bot.core.context import BotContext
from bot.core.services import Services
from bot.core.telegram_io import send
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from est import planning as plan
from est.planning import EVENT, INSATS, InvalidChoice, PlanDraft
from storage import dialogs as dialog_store
from storage.models import Dialog, Insats

TEMPLATE = "planning"
ENDED = (TEMPLATE, "ended")
# /handelse ny and /insats ny replace each other (one registration at a time).
REGISTRATIONS = (EVENT, INSATS)
SAVE = "✅ Spara"
SAVE_ACTION = "ok"
WHOLE_KOMMUN, WHOLE_AREA = "Hela kommunen", "Hela området"


# ---------------------------------------------------------------- presentation

def area_name(services: Services, area_key: str | None) -> str:
    if area_key is None:
        return WHOLE_KOMMUN
    area = services.config.area(area_key)
    return area.name if area else area_key


def place_name(services: Services, area_key: str, place_key: str | None,
               typed_name: str | None) -> str | None:
    if place_key:
        place = services.config.place(area_key, place_key)
        return place.name if place else place_key
    return typed_name


def org_name(services: Services, org_key: str | None) -> str | None:
    if org_key is None:
        return None
    org = services.config.organisation(org_key)
    return org.name if org else org_key


def local(services: Services, moment: datetime) -> datetime:
    return moment.astimezone(services.config.tz)


def period(services: Services, start: datetime, end: datetime) -> str:
    return plan.format_period(local(services, start), local(services, end))


def draft_view(services: Services, draft: PlanDraft) -> dict:
    """The draft in words, for the templates."""
    shown_area = None
    if draft.area is not None or draft.whole_kommun:
        shown_area = area_name(services, draft.area)
    place = None
    if draft.area:
        place = place_name(services, draft.area, draft.place_key, draft.place_name)
    if place is None and draft.whole_area:
        place = WHOLE_AREA
    start, end = draft.start(), draft.end()
    day = date.fromisoformat(draft.day) if draft.day else None
    return {
        "kind": draft.kind,
        "area_name": shown_area,
        "place": place,
        "what": draft.what,
        "day": plan.day_label(day) if day else None,
        "hours": plan.event_hour_choices(day, services.local_now()) if day else [],
        "when": plan.format_moment(local(services, start)) if start else None,
        "period": period(services, start, end) if start and end else None,
        "org_name": org_name(services, draft.org),
        "feedback": bool(draft.place_key),
        "insats_id": draft.insats_id,
        "what_max": plan.EVENT_TITLE_MAX if draft.kind == EVENT else plan.INSATS_WHAT_MAX,
        "place_max": plan.PLACE_NAME_MAX,
        "comment_max": plan.FOLLOWUP_COMMENT_MAX,
        "effect": plan.EFFECTS.get(draft.effect or ""),
    }


def insats_view(services: Services, insats: Insats) -> dict:
    status = plan.effective_status(insats.status, insats.starts_at, insats.ends_at,
                                   services.now())
    return {
        "id": insats.id,
        "status": status,
        "status_label": plan.STATUS_LABELS.get(status, status),
        "area_name": area_name(services, insats.area_key),
        "place": place_name(services, insats.area_key, insats.place_key, insats.place_name),
        "what": insats.what,
        "org_name": org_name(services, insats.org_key),
        "period": period(services, insats.starts_at, insats.ends_at),
    }


# ---------------------------------------------------------------- access

async def is_coordinator(update: Update, context: BotContext) -> bool:
    """True for a coordinator or admin; anyone else is told what the command is for."""
    actor = context.actor
    if actor is not None and actor.is_coordinator:
        return True
    await send(update, context.services.render(TEMPLATE, "coordinators_only"))
    return False


# ---------------------------------------------------------------- registration steps

def draft_of(turn: Turn) -> PlanDraft:
    return PlanDraft.from_json(turn.data)


def keep(turn: Turn, draft: PlanDraft) -> None:
    turn.row.data = draft.to_json()


Rows = Callable[[Turn, PlanDraft], list[list[Button]]]


def step_view(step: str, rows: Rows | None = None, *, back: bool = True,
              wants_text: bool = False):
    """A step whose text is the template macro of the same name."""
    def view(turn: Turn) -> Screen:
        draft = draft_of(turn)
        text = turn.render(TEMPLATE, step, d=draft_view(turn.services, draft))
        return Screen(text, rows(turn, draft) if rows else [], back=back,
                      wants_text=wants_text)
    return view


def save_row(_turn: Turn, _draft: PlanDraft) -> list[list[Button]]:
    return [[Button(SAVE, SAVE_ACTION)]]


def refused(turn: Turn, problem: InvalidChoice) -> Invalid:
    turn.delete_incoming = problem.delete
    return Invalid(turn.render(TEMPLATE, "refused", problem=str(problem)))


async def choose(turn: Turn, action: str, arg: str) -> Next:
    draft = draft_of(turn)
    try:
        step = plan.choose(draft, turn.step, action, arg or None, config=turn.services.config,
                           now_local=turn.services.local_now())
    except InvalidChoice as problem:
        raise refused(turn, problem) from problem
    keep(turn, draft)
    return step


async def typed(turn: Turn, text: str) -> Next:
    draft = draft_of(turn)
    try:
        answer = plan.typed(draft, turn.step, text, now_local=turn.services.local_now())
    except InvalidChoice as problem:
        raise refused(turn, problem) from problem
    # A phone number or an e-mail address leaves the chat; the masked text is kept.
    turn.notice, turn.delete_incoming = answer.notice, answer.delete
    keep(turn, draft)
    return answer.step


def back(turn: Turn) -> str:
    return plan.previous_step(draft_of(turn), turn.step)


Save = Callable[[Turn, PlanDraft], Awaitable[Finish]]


def on_confirm(save: Save):
    """"Spara": the missing step if any, else the event or insats is made, once."""
    async def press(turn: Turn, action: str, arg: str) -> Next:
        if action != SAVE_ACTION:
            raise Invalid(turn.render(*ENDED))
        draft = draft_of(turn)
        missing = plan.first_missing_step(draft)
        if missing is not None:
            return missing
        return await save(turn, draft)
    return press


async def already_saved(turn: Turn) -> Screen | None:
    """A press on a saved dialog (e.g. "Spara" twice): nothing is made again."""
    turn.toast = turn.render(TEMPLATE, "already_saved")
    return None


def cancelled(turn: Turn) -> str:
    return turn.render(TEMPLATE, "cancelled")


async def open_registration(turn: Turn, kind: str, first_step: str) -> Dialog:
    """"➕ Ny …" under a list: a registration dialog, shown by the engine after this turn."""
    return await dialog_store.open_dialog(
        turn.session, kind=kind, replaces=REGISTRATIONS, member_id=turn.actor.member_id,
        chat_id=turn.row.chat_id, step=first_step, data=PlanDraft(kind=kind).to_json(),
        now=turn.now, update_id=None)


async def start_registration(update: Update, context: BotContext, kind: str) -> None:
    await context.dialogs.start(update, context, kind, data=PlanDraft(kind=kind).to_json())


# ---------------------------------------------------------------- the dialogs and the command

def area_step(step: str, rows: Rows) -> Step:
    """The first step: a choice, with nothing to go back to."""
    return Step(step_view(step, rows, back=False), press=choose)


def choice_step(step: str, rows: Rows, *, or_typed: bool = False) -> Step:
    return Step(step_view(step, rows), press=choose, text=typed if or_typed else None,
                back=back)


def text_step(step: str) -> Step:
    return Step(step_view(step, wants_text=True), text=typed, back=back)


def confirm_step(step: str, save: Save) -> Step:
    return Step(step_view(step, save_row), press=on_confirm(save), back=back)


def list_dialog(kind: str, first_step: str, steps: dict[str, Step]) -> DialogSpec:
    """The list under /handelse or /insats."""
    return DialogSpec(kind=kind, first_step=first_step, min_role="coordinator",
                      cancelled=cancelled, ended=ENDED, steps=steps)


def registration_dialog(kind: str, first_step: str, steps: dict[str, Step]) -> DialogSpec:
    """/handelse ny or /insats ny: one registration at a time, saved exactly once."""
    return DialogSpec(kind=kind, first_step=first_step, min_role="coordinator",
                      replaces=REGISTRATIONS, cancelled=cancelled, ended=ENDED,
                      when_done=already_saved, steps=steps)


def list_or_register(kind: str, list_kind: str):
    """The command handler: the list, or with ``ny`` a registration at once."""
    async def command(update: Update, context: BotContext) -> None:
        if not await is_coordinator(update, context):
            return
        if context.args and context.args[0].lower() == "ny":
            await start_registration(update, context, kind)
            return
        await context.dialogs.start(update, context, list_kind)

    return command
