"""``/checklista``: the warning-signal checklist of Bilaga 3, one statement per step.

A coordinator picks an area and rates its twenty statements 1–4 in one message that is
edited step by step. Every press is written to the ``checklists`` row at once, so the
checklist can be left half-done and resumed (also after a restart). The callback carries
the statement number and the value, so a replayed press sets the same value again.

Callback data: ``cl:a:<area>`` (choose area), ``cl:q`` (close the chooser), and
``cl:<checklist>:<action>[:<number>[:<value>]]`` with actions ``v`` (answer), ``s`` (show a
statement), ``r`` (resume), ``n`` (start over), ``l`` (save and continue later), ``x``/``xy``
(ask to cancel / cancel).
"""

from __future__ import annotations

import inspect
import logging
from datetime import date

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.context import Actor, BotContext
from bot.services import Services
from bot.telegram_io import answer, callback, in_rows, keyboard, send, show
from est import checklist as est
from messages import labels
from storage import checklists as store
from storage.models import Checklist

log = logging.getLogger(__name__)

PREFIX = "cl"
COUNT = len(est.STATEMENTS)
GROUP_INDEX = {g.key: i for i, g in enumerate(est.GROUPS, start=1)}
GROUP_BY_KEY = {g.key: g for g in est.GROUPS}

RESUME = "▶ Fortsätt"
RESTART = "↺ Börja om"
SAVE_LATER = "💾 Spara och fortsätt senare"
NOT_NOW = "Inte nu"
CONFIRM_CANCEL = "Ja, avbryt"
KEEP_GOING = "Nej, fortsätt"
CONFIRM_PROPOSAL = "✔ Bekräfta förslaget: {value}"
CURRENT = "✓ "


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


def _area_name(services: Services, area_key: str) -> str:
    area = services.config.area(area_key)
    return area.name if area else area_key


def render_statement(services: Services, row: Checklist,
                     number: int) -> tuple[str, InlineKeyboardMarkup]:
    """Text and keyboard for one statement of one checklist."""
    answers = store.answers_of(row)
    statement = est.statement(number)
    group = GROUP_BY_KEY[statement.group_key]
    current = answers.get(number)
    proposal = None
    if number in (est.SCHOOL_HOLIDAY, est.PUBLIC_HOLIDAY):
        value, reason = proposals(services)[number]
        proposal = {"value": value, "label": est.scale_label(value), "reason": reason}
    text = services.render(
        "checklist", "statement", title=est.CHECKLIST_TITLE,
        area_name=_area_name(services, row.area_key), s=statement, group=group,
        group_index=GROUP_INDEX[group.key], group_count=len(est.GROUPS), count=COUNT,
        answered=len(answers), current=current,
        current_label=est.scale_label(current) if current else None, proposal=proposal,
        weather=number == est.WEATHER, instruction=est.SCALE_INSTRUCTION,
    )
    i = row.id

    def value_button(value: int) -> tuple[str, str]:
        mark = CURRENT if value == current else ""
        return mark + est.scale_label(value), callback(PREFIX, i, "v", number, value)

    rows: list[list[tuple[str, str]]] = []
    if proposal and current is None:
        rows.append([(CONFIRM_PROPOSAL.format(value=proposal["value"]),
                      callback(PREFIX, i, "v", number, proposal["value"]))])
    rows += [[value_button(est.MIN_VALUE)],
             [value_button(v) for v in range(est.MIN_VALUE + 1, est.MAX_VALUE)],
             [value_button(est.MAX_VALUE)]]
    nav = [(labels.BACK, callback(PREFIX, i, "s", number - 1))] if number > 1 else []
    rows.append([*nav, (labels.CANCEL, callback(PREFIX, i, "x"))])
    rows.append([(SAVE_LATER, callback(PREFIX, i, "l"))])
    return text, keyboard(rows)


def render_done(services: Services, row: Checklist) -> str:
    score = store.score_of(row)
    strongest = [{"number": s.number, "text": s.text, "label": est.scale_label(value)}
                 for s, value in est.strongest_signals(score)]
    return services.render("checklist", "done", area_name=_area_name(services, row.area_key),
                           total=est.total(score), max_total=est.max_possible(score),
                           strongest=strongest, completed_at=row.completed_at)


def render_resume_offer(services: Services, row: Checklist) -> tuple[str, InlineKeyboardMarkup]:
    text = services.render("checklist", "resume_offer", title=est.CHECKLIST_TITLE,
                           area_name=_area_name(services, row.area_key),
                           answered=len(store.answers_of(row)), count=COUNT,
                           updated_at=row.updated_at)
    rows = [[(RESUME, callback(PREFIX, row.id, "r")), (RESTART, callback(PREFIX, row.id, "n"))],
            [(NOT_NOW, callback(PREFIX, "q"))]]
    return text, keyboard(rows)


# ---------------------------------------------------------------- handlers

async def checklist_command(update: Update, context: BotContext) -> None:
    """``/checklista [område]``: choose an area, or go straight to the named one."""
    services, actor = context.services, context.member
    if not actor.is_coordinator:
        await send(update, services.render("checklist", "only_coordinators"))
        return
    config = services.config
    wanted = " ".join(context.args or []).strip().lower()
    area = next((a for a in config.areas if wanted in (a.key.lower(), a.name.lower())), None) \
        if wanted else None
    if area is not None:
        async with services.db.session() as session:
            text, markup = await _open_area(services, session, actor, area.key)
            await session.commit()
        await send(update, text, markup)
        return
    async with services.db.session() as session:
        drafts = await store.member_drafts(session, actor.member_id)
    started = [{"area_name": _area_name(services, d.area_key),
                "answered": len(store.answers_of(d)), "count": COUNT}
               for d in drafts if store.answers_of(d)]
    buttons = [(a.name, callback(PREFIX, "a", a.key)) for a in config.areas]
    markup = keyboard([*in_rows(buttons, 2), [(labels.CANCEL, callback(PREFIX, "q"))]])
    await send(update, services.render("checklist", "choose_area", title=est.CHECKLIST_TITLE,
                                       drafts=started), markup)


async def group_command(update: Update, context: BotContext) -> None:
    """In a group the checklist is not filled in: point to the private chat."""
    await send(update, context.services.render("checklist", "private_only"))


async def _open_area(services: Services, session, actor: Actor,
                     area_key: str) -> tuple[str, InlineKeyboardMarkup]:
    """The member's draft for the area (offer to resume it) or a new checklist."""
    row = await store.member_draft(session, actor.member_id, area_key)
    if row is not None and store.answers_of(row):
        return render_resume_offer(services, row)
    if row is None:
        row = await store.start(session, member_id=actor.member_id, area_key=area_key,
                                now=services.now())
    return render_statement(services, row, store.first_unanswered({}) or 1)


async def on_button(update: Update, context: BotContext) -> None:
    services, actor = context.services, context.actor
    parts = (update.callback_query.data or "").split(":")
    if (actor is None or update.effective_chat is None
            or update.effective_chat.type != ChatType.PRIVATE or len(parts) < 2):
        await answer(update, services.render("checklist", "stale"))
        return
    if not actor.is_coordinator:
        await answer(update, services.render("checklist", "only_coordinators"), alert=True)
        return
    if parts[1] == "q" and len(parts) == 2:
        await answer(update)
        await show(update, services.render("checklist", "closed"))
        return
    if parts[1] == "a" and len(parts) == 3:
        await _choose_area(update, context, parts[2])
        return
    if not parts[1].isdigit() or len(parts) < 3:
        await answer(update, services.render("checklist", "stale"))
        return
    checklist_id, action, args = int(parts[1]), parts[2], parts[3:]
    if not all(arg.isdigit() for arg in args):
        await answer(update, services.render("checklist", "invalid"))
        return
    numbers = [int(arg) for arg in args]
    async with services.db.session() as session:
        row = await store.lock(session, checklist_id)
        if row is None or row.member_id != actor.member_id:
            # Someone else's checklist, or none: say nothing about it.
            await answer(update, services.render("checklist", "stale"))
            return
        if row.status == store.DONE:
            await answer(update, services.render("checklist", "already_done"))
            return
        if row.status != store.DRAFT:
            await answer(update, services.render("checklist", "ended"))
            return
        await _apply(update, context, session, row, action, numbers)


async def _choose_area(update: Update, context: BotContext, area_key: str) -> None:
    services, actor = context.services, context.member
    if services.config.area(area_key) is None:
        await answer(update, services.render("checklist", "unknown_area"))
        return
    async with services.db.session() as session:
        text, markup = await _open_area(services, session, actor, area_key)
        await session.commit()
    await answer(update)
    await show(update, text, markup)


async def _apply(update: Update, context: BotContext, session, row: Checklist, action: str,
                 numbers: list[int]) -> None:
    services, actor = context.services, context.member
    area_name = _area_name(services, row.area_key)
    answers = store.answers_of(row)
    if action == "v" and len(numbers) == 2:
        number, value = numbers
        if not store.valid_answer(number, value):
            await answer(update, services.render("checklist", "invalid"))
            return
        store.set_answer(row, number, value, services.now())
        finished = store.is_complete(row)
        if finished:
            store.complete(row, services.now())
        session.add(row)
        await session.commit()
        await answer(update, services.render("checklist", "answered_toast", number=number,
                                             value=value))
        if finished:
            await show(update, render_done(services, row))
            services.spawn(recompute_suggestion(services, context.bot, row.area_key),
                           f"checklist-{row.id}-evaluate")
            return
        following = store.first_unanswered(store.answers_of(row), after=number)
        await show(update, *render_statement(services, row, following))
    elif action == "s" and len(numbers) == 1:
        number = numbers[0]
        if number not in store.NUMBERS:
            await answer(update, services.render("checklist", "invalid"))
            return
        await answer(update)
        await show(update, *render_statement(services, row, number))
    elif action == "r" and not numbers:
        await answer(update)
        await show(update, *render_statement(services, row, store.first_unanswered(answers)))
    elif action == "n" and not numbers:
        fresh = await store.start(session, member_id=actor.member_id, area_key=row.area_key,
                                  now=services.now())
        await session.commit()
        await answer(update)
        await show(update, *render_statement(services, fresh, 1))
    elif action == "l" and not numbers:
        await answer(update)
        await show(update, services.render("checklist", "saved", area_name=area_name,
                                           answered=len(answers), count=COUNT))
    elif action == "x" and not numbers:
        await answer(update)
        resume_at = store.first_unanswered(answers) or est.STATEMENTS[-1].number
        await show(update, services.render("checklist", "confirm_cancel", area_name=area_name,
                                           answered=len(answers)),
                   keyboard([[(CONFIRM_CANCEL, callback(PREFIX, row.id, "xy")),
                              (KEEP_GOING, callback(PREFIX, row.id, "s", resume_at))]]))
    elif action == "xy" and not numbers:
        store.cancel(row, services.now())
        session.add(row)
        await session.commit()
        await answer(update)
        await show(update, services.render("checklist", "cancelled", area_name=area_name))
    else:
        await answer(update, services.render("checklist", "invalid"))


async def recompute_suggestion(services: Services, bot, area_key: str) -> None:
    """A completed checklist changes the suggested level: let the analysis look again."""
    from bot import alerts  # imported late: the analysis module is wired after this one

    evaluate = getattr(alerts, "evaluate_area", None)
    if evaluate is None:
        log.info("no alerts.evaluate_area yet; suggestion for %s not recomputed", area_key)
        return
    result = evaluate(services, bot, area_key)
    if inspect.isawaitable(result):
        await result


def build_checklist_handlers() -> list[BaseHandler]:
    private = filters.ChatType.PRIVATE
    return [
        CommandHandler("checklista", checklist_command, filters=private),
        CommandHandler("checklista", group_command, filters=filters.ChatType.GROUPS),
        CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"),
    ]
