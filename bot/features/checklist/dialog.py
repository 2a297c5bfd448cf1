"""``/checklista``: the warning-signal checklist of Bilaga 3, declared for the dialog engine.

A coordinator picks an area and rates its twenty statements 1–4 in one message that is
edited statement by statement. The dialog's data holds the ``checklists`` row it fills in
and the statement on screen; the answers themselves live in that row (the domain record
the suggested level reads), written on every press inside the turn's transaction.

"Spara och fortsätt senare" ends the dialog and leaves the checklist a draft: a later
``/checklista`` for the area offers to resume it in a new dialog, after a restart or days
later alike. A press carries the statement number and the value, so answering the same
statement twice sets the same value again. Completing the last statement marks the
checklist done, and the suggestion for the area is re-evaluated after the commit.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.context import BotContext
from bot.core.services import Services
from bot.core.telegram_io import send
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from bot.features.levels import alerts
from est import checklist as est
from messages import labels
from storage import checklists as store
from storage.models import Checklist

KIND = "checklist"
AREA, RESUME_OFFER, STATEMENT, CONFIRM_CANCEL = "area", "resume", "statement", "confirm"
CONFIRM_RESTART = "restart"  # "Börja om" asks before the answers are wiped

COUNT = len(est.STATEMENTS)
FIRST = est.STATEMENTS[0].number
GROUP_INDEX = {g.key: i for i, g in enumerate(est.GROUPS, start=1)}
GROUP_BY_KEY = {g.key: g for g in est.GROUPS}

RESUME = "▶ Fortsätt"
RESTART = "↺ Börja om"
SAVE_LATER = "💾 Spara och fortsätt senare"
NOT_NOW = "Inte nu"
CONFIRM = "Ja, avbryt"
KEEP_GOING = "Nej, fortsätt"
CONFIRM_RESTART_LABEL = "Ja, börja om"
CONFIRM_PROPOSAL = "✔ Bekräfta förslaget: {value}"
CURRENT = "✓ "

# Button actions (the engine's own are b, x and pg).
CHOOSE_AREA, ANSWER, SHOW, SAVE, ASK_CANCEL, CANCEL = "a", "v", "s", "l", "c", "cy"
CONTINUE, START_OVER, CLOSE, WIPE = "r", "n", "q", "ny"
DONT_KNOW = "u"  # "Vet ej" for the statement in the press


# ---------------------------------------------------------------- presentation

def proposals(services: Services, today: date | None = None) -> dict[int, tuple[int, str]]:
    """Pre-filled (value, reason) for the statements the calendar answers (18 and 19).

    School holidays come from the deployment config, public holidays from the holidays
    library; this year's and next year's, so late December sees New Year. The weather
    (statement 20) is never pre-filled.
    """
    day = today or services.local_now().date()
    school = [(h.start, h.end, h.name) for h in services.config.school_holidays]
    public = {**est.swedish_public_holidays(day.year), **est.swedish_public_holidays(day.year + 1)}
    return est.prefill_other_aspects(day, school, public)


def area_name(services: Services, area_key: str) -> str:
    area = services.config.area(area_key)
    return area.name if area else area_key


def answer_arg(number: int, value: int) -> str:
    return f"{number}.{value}"


def render_done(services: Services, row: Checklist) -> str:
    """The result: "Vet ej" counts nowhere and is shown as unanswered."""
    score = store.score_of(row)
    strongest = [{"number": s.number, "text": s.text, "label": est.scale_label(value)}
                 for s, value in est.strongest_signals(score)]
    return services.render("checklist", "done", area_name=area_name(services, row.area_key),
                           total=est.total(score), max_total=est.max_possible(score),
                           strongest=strongest, completed_at=row.completed_at,
                           unknown=sorted(score.unknown))


def render_saved(services: Services, row: Checklist) -> str:
    return services.render("checklist", "saved", area_name=area_name(services, row.area_key),
                           answered=len(store.answers_of(row)), count=COUNT)


async def checklist_of(turn: Turn) -> Checklist:
    return await turn.session.get(Checklist, turn.data["checklist_id"])


# ---------------------------------------------------------------- views

async def _areas(turn: Turn) -> Screen:
    services = turn.services
    drafts = await store.member_drafts(turn.session, turn.actor.member_id)
    started = [{"area_name": area_name(services, d.area_key),
                "answered": len(store.answers_of(d)), "count": COUNT}
               for d in drafts if store.answers_of(d)]
    buttons = [Button(a.name, CHOOSE_AREA, a.key) for a in services.config.areas]
    text = turn.render("checklist", "choose_area", title=est.CHECKLIST_TITLE, drafts=started)
    return Screen(text, [buttons[i:i + 2] for i in range(0, len(buttons), 2)])


async def _resume_offer(turn: Turn) -> Screen:
    row = await checklist_of(turn)
    text = turn.render("checklist", "resume_offer", title=est.CHECKLIST_TITLE,
                       area_name=area_name(turn.services, row.area_key),
                       answered=len(store.answers_of(row)), count=COUNT,
                       updated_at=row.updated_at)
    rows = [[Button(RESUME, CONTINUE), Button(RESTART, START_OVER)], [Button(NOT_NOW, CLOSE)]]
    return Screen(text, rows, cancel=False)


async def _statement(turn: Turn) -> Screen:
    """One statement: the scale, the calendar's proposal, back, cancel and save for later."""
    services, row, number = turn.services, await checklist_of(turn), turn.data["number"]
    answers = store.answers_of(row)
    statement = est.statement(number)
    group = GROUP_BY_KEY[statement.group_key]
    current = answers.get(number)  # None: not answered; est.UNKNOWN: "Vet ej"
    proposal = None
    if number in (est.SCHOOL_HOLIDAY, est.PUBLIC_HOLIDAY):
        value, reason = proposals(services)[number]
        proposal = {"value": value, "label": est.scale_label(value), "reason": reason}
    text = turn.render(
        "checklist", "statement", title=est.CHECKLIST_TITLE,
        area_name=area_name(services, row.area_key), s=statement, group=group,
        group_index=GROUP_INDEX[group.key], group_count=len(est.GROUPS), count=COUNT,
        answered=len(answers), current=current,
        current_label=est.scale_label(current) if current is not None else None,
        proposal=proposal,
        weather=number == est.WEATHER, instruction=est.SCALE_INSTRUCTION,
    )

    def value_button(value: int) -> Button:
        mark = CURRENT if value == current else ""
        if value == est.UNKNOWN:
            return Button(mark + est.UNKNOWN_LABEL, DONT_KNOW, str(number))
        return Button(mark + est.scale_label(value), ANSWER, answer_arg(number, value))

    rows: list[list[Button]] = []
    if proposal and current is None:
        rows.append([Button(CONFIRM_PROPOSAL.format(value=proposal["value"]), ANSWER,
                            answer_arg(number, proposal["value"]))])
    rows += [[value_button(est.MIN_VALUE)],
             [value_button(v) for v in range(est.MIN_VALUE + 1, est.MAX_VALUE)],
             [value_button(est.MAX_VALUE)],
             [value_button(est.UNKNOWN)]]
    # Avbryt asks first, so it is this dialog's own button rather than the engine's.
    back = [Button(labels.BACK, SHOW, str(number - 1))] if number > FIRST else []
    rows.append([*back, Button(labels.CANCEL, ASK_CANCEL)])
    rows.append([Button(SAVE_LATER, SAVE)])
    return Screen(text, rows, cancel=False)


async def _confirm_restart(turn: Turn) -> Screen:
    row = await checklist_of(turn)
    answers = store.answers_of(row)
    resume_at = store.first_unanswered(answers) or FIRST
    text = turn.render("checklist", "confirm_restart",
                       area_name=area_name(turn.services, row.area_key), answered=len(answers))
    rows = [[Button(CONFIRM_RESTART_LABEL, WIPE), Button(KEEP_GOING, SHOW, str(resume_at))]]
    return Screen(text, rows, cancel=False)


async def _confirm_cancel(turn: Turn) -> Screen:
    row = await checklist_of(turn)
    answers = store.answers_of(row)
    resume_at = store.first_unanswered(answers) or est.STATEMENTS[-1].number
    text = turn.render("checklist", "confirm_cancel",
                       area_name=area_name(turn.services, row.area_key), answered=len(answers))
    rows = [[Button(CONFIRM, CANCEL), Button(KEEP_GOING, SHOW, str(resume_at))]]
    return Screen(text, rows, cancel=False)


# ---------------------------------------------------------------- answers

def invalid(turn: Turn) -> Invalid:
    return Invalid(turn.render("checklist", "invalid"))


def numbers_of(turn: Turn, arg: str, count: int) -> list[int]:
    """The plain numbers a press carries (``7`` or ``7.3``), else the press is invalid."""
    parts = arg.split(".")
    if len(parts) != count or not all(p.isascii() and p.isdigit() for p in parts):
        raise invalid(turn)
    return [int(p) for p in parts]


async def draft_of(turn: Turn) -> Checklist:
    """The dialog's checklist, locked, as long as it is still being filled in."""
    row = await store.lock(turn.session, turn.data["checklist_id"])
    if row is None or row.status != store.DRAFT:
        done = row is not None and row.status == store.DONE
        raise Invalid(turn.render("checklist", "already_done" if done else "ended"))
    return row


async def open_area(session: AsyncSession, member_id: int, area_key: str,
                    now: datetime) -> tuple[str, dict]:
    """Step and data for an area: offer to resume the member's draft, or a new checklist."""
    row = await store.member_draft(session, member_id, area_key)
    if row is not None and store.answers_of(row):
        return RESUME_OFFER, {"checklist_id": row.id}
    if row is None:
        row = await store.start(session, member_id=member_id, area_key=area_key, now=now)
    return STATEMENT, {"checklist_id": row.id, "number": FIRST}


async def on_area(turn: Turn, action: str, arg: str) -> Next:
    if action != CHOOSE_AREA:
        raise invalid(turn)
    if turn.services.config.area(arg) is None:
        raise Invalid(turn.render("checklist", "unknown_area"))
    step, turn.row.data = await open_area(turn.session, turn.actor.member_id, arg, turn.now)
    return step


async def on_resume_offer(turn: Turn, action: str, arg: str) -> Next:
    if action == CLOSE and not arg:
        return Finish(turn.render("checklist", "closed"), cancelled=True)
    if arg or action not in (CONTINUE, START_OVER):
        raise invalid(turn)
    row = await draft_of(turn)
    if action == CONTINUE:
        turn.data["number"] = store.first_unanswered(store.answers_of(row)) or FIRST
        return STATEMENT
    return CONFIRM_RESTART  # the answers are wiped only after "Ja, börja om"


async def on_confirm_restart(turn: Turn, action: str, arg: str) -> Next:
    row = await draft_of(turn)
    if action == SHOW:
        return show_statement(turn, arg)
    if action != WIPE or arg:
        raise invalid(turn)
    fresh = await store.start(turn.session, member_id=row.member_id, area_key=row.area_key,
                              now=turn.now)
    turn.row.data = {"checklist_id": fresh.id, "number": FIRST}
    return STATEMENT


def show_statement(turn: Turn, arg: str) -> Next:
    [number] = numbers_of(turn, arg, 1)
    if number not in store.NUMBERS:
        raise invalid(turn)
    turn.data["number"] = number
    return STATEMENT


async def on_statement(turn: Turn, action: str, arg: str) -> Next:
    row = await draft_of(turn)
    if action in (ANSWER, DONT_KNOW):
        return await answer(turn, row, arg, dont_know=action == DONT_KNOW)
    if action == SHOW:
        return show_statement(turn, arg)
    if arg:
        raise invalid(turn)
    if action == SAVE:
        return Finish(render_saved(turn.services, row))
    if action == ASK_CANCEL:
        return CONFIRM_CANCEL
    raise invalid(turn)


async def answer(turn: Turn, row: Checklist, arg: str, dont_know: bool = False) -> Next:
    """Record one value (or "Vet ej"); the last one completes the checklist and
    re-evaluates the area."""
    if dont_know:
        [number], value = numbers_of(turn, arg, 1), est.UNKNOWN
        if number not in store.NUMBERS:
            raise invalid(turn)
        set_unknown(row, number, turn.now)
    else:
        number, value = numbers_of(turn, arg, 2)
        if not store.valid_answer(number, value):
            raise invalid(turn)
        store.set_answer(row, number, value, turn.now)
    turn.toast = turn.render("checklist", "answered_toast", number=number,
                             label=est.scale_label(value))
    if not store.is_complete(row):
        turn.data["number"] = store.first_unanswered(store.answers_of(row), after=number)
        turn.session.add(row)
        return STATEMENT
    store.complete(row, turn.now)
    turn.session.add(row)
    services, bot, area_key = turn.services, turn.bot, row.area_key
    # The suggested level is looked at again once the done checklist is committed.
    turn.after.append(lambda: alerts.evaluate_area(services, bot, area_key))
    return Finish(render_done(services, row))


def set_unknown(row: Checklist, number: int, now: datetime) -> None:
    """Record "Vet ej" (est.checklist.UNKNOWN) as storage.checklists.set_answer records a
    value: the statement counts as answered, the score leaves it out. (set_answer itself
    only takes 1–4.)"""
    answers = {str(n): v for n, v in store.answers_of(row).items()}
    answers[str(number)] = est.UNKNOWN
    row.answers = dict(sorted(answers.items(), key=lambda item: int(item[0])))
    row.updated_at = now


async def on_confirm_cancel(turn: Turn, action: str, arg: str) -> Next:
    row = await draft_of(turn)
    if action == SHOW:
        return show_statement(turn, arg)
    if action != CANCEL or arg:
        raise invalid(turn)
    store.cancel(row, turn.now)
    turn.session.add(row)
    return Finish(turn.render("checklist", "cancelled",
                              area_name=area_name(turn.services, row.area_key)),
                  cancelled=True)


async def when_done(turn: Turn) -> Screen | None:
    """A press on a finished dialog (e.g. replayed after a crash): its last message again."""
    row = await checklist_of(turn)
    if row.status == store.DONE:
        turn.toast = turn.render("checklist", "already_done")
        return Screen(render_done(turn.services, row), cancel=False)
    turn.toast = turn.render("checklist", "stale")
    if row.status == store.DRAFT:
        return Screen(render_saved(turn.services, row), cancel=False)
    return None


DIALOG = DialogSpec(
    kind=KIND,
    first_step=AREA,
    min_role="coordinator",
    cancelled=lambda turn: turn.render("checklist", "closed"),
    ended=("checklist", "ended"),
    when_done=when_done,
    steps={
        AREA: Step(_areas, press=on_area),
        RESUME_OFFER: Step(_resume_offer, press=on_resume_offer),
        STATEMENT: Step(_statement, press=on_statement),
        CONFIRM_CANCEL: Step(_confirm_cancel, press=on_confirm_cancel),
        CONFIRM_RESTART: Step(_confirm_restart, press=on_confirm_restart),
    },
)


# ---------------------------------------------------------------- commands

async def checklist_command(update: Update, context: BotContext) -> None:
    """``/checklista [område]``: choose an area, or go straight to the named one."""
    services, actor = context.services, context.member
    if not actor.is_coordinator:
        await send(update, services.render("checklist", "only_coordinators"))
        return
    wanted = " ".join(context.args or []).strip().lower()
    area = next((a for a in services.config.areas if wanted in (a.key.lower(), a.name.lower())),
                None) if wanted else None
    if area is None:
        await context.dialogs.start(update, context, KIND)
        return
    # The checklist row exists before the dialog that fills it in; a replayed command
    # finds the same draft again and the engine shows the dialog it already started.
    async with services.db.session() as session:
        step, data = await open_area(session, actor.member_id, area.key, services.now())
        await session.commit()
    await context.dialogs.start(update, context, KIND, data=data, step=step)


async def group_command(update: Update, context: BotContext) -> None:
    """In a group the checklist is not filled in: point to the private chat."""
    await send(update, context.services.render("checklist", "private_only"))


def build_checklist_handlers() -> list[BaseHandler]:
    return [
        CommandHandler("checklista", checklist_command, filters=filters.ChatType.PRIVATE),
        CommandHandler("checklista", group_command, filters=filters.ChatType.GROUPS),
    ]
