"""``/niva``: a coordinator changes an area's level, with a required reason.

A dialog on the engine (bot/dialogs), in a private chat or in a registered
coordinator group: area → level (only the changes ``est.levels`` allows from the
current level; the others are listed with why not) → the reason. The reason step
takes typed text: in a private chat the next text is the reason; in a group the
engine asks with a ForceReply prompt and only a reply to it counts. The choice
lives in the dialog row, so a restart loses nothing and a redelivered reply
records nothing twice (the engine recognises its update id).

The reason is checked on arrival (``est.levels.check_reason``), and so is the
transition, from the level that holds *now*. The change is stored in the turn;
closing the suggestions it meets and the pushes to the groups and the field run
after the commit (``turn.after``), through the outbox.

``/niva <område>`` opens the level menu of an area, ``/niva historik [område]``
the history, newest first, in pages that fit Telegram.

A personnummer in a reason or in the command's argument is refused and its message
deleted; where the bot may not delete (a group in which it is no admin) the refusal
says so, and the coordinator deletes it.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CommandHandler

from bot.core.access import coordinator_here
from bot.core.context import BotContext
from bot.core.services import Services
from bot.core.telegram_io import delete_quietly, in_rows, send
from bot.dialogs import Button, Finish, Invalid, Next, Screen, Step, Turn
from bot.dialogs.paging import page_of
from bot.features.coordination import coordination_dialog, coordinator_chat
from bot.features.levels import alerts
from est.config import Area, DeploymentConfig
from est.levels import (
    REASON_MAX,
    Level,
    allowed_targets,
    check_reason,
    check_transition,
    level_named,
    refused_targets,
)
from est.privacy import find_personnummer, mask_contact_details
from storage.levels import current_level, current_levels, level_history, record_level

KIND = "level"
AREAS, HISTORY_AREAS, LEVEL, REASON, HISTORY = "areas", "hareas", "level", "reason", "history"
TEMPLATE = "levels"
EMOJI = {Level.GRON: "🟢", Level.GUL: "🟡", Level.ROD: "🔴", Level.ORANGE: "🟠"}
HISTORY_LABEL = "📜 Historik"
HISTORY_WORDS = ("historik", "historia")
HISTORY_LIMIT = 10_000
# An unknown area is named back only when it is this short (a typo, not a pasted text).
ECHO_MAX = 40


def find_area(config: DeploymentConfig, text: str) -> Area | None:
    wanted = text.strip().casefold()
    return next((a for a in config.areas if wanted in (a.key.casefold(), a.name.casefold())),
                None)


def _area(turn: Turn) -> Area | None:
    """The dialog's area; None if it left the configuration while the dialog was open."""
    return turn.services.config.area(turn.data.get("area") or "")


def _level(turn: Turn) -> Level | None:
    return level_named(turn.data.get("level") or "")


def _ended(turn: Turn) -> Screen:
    return Screen(turn.render(TEMPLATE, "ended"))


def _refuse(turn: Turn) -> Invalid:
    return Invalid(turn.render(TEMPLATE, "ended"))


# ---------------------------------------------------------------- views

async def _area_menu(turn: Turn, *, history: bool) -> Screen:
    levels = await current_levels(turn.session)
    action = "h" if history else "a"
    buttons = [Button(f"{EMOJI[alerts.level_of(levels.get(a.key))]} {a.name}", action, a.key)
               for a in turn.services.config.areas]
    return Screen(turn.render(TEMPLATE, "area_menu", history=history), in_rows(buttons, 2))


async def _areas(turn: Turn) -> Screen:
    return await _area_menu(turn, history=False)


async def _history_areas(turn: Turn) -> Screen:
    return await _area_menu(turn, history=True)


async def _level_menu(turn: Turn) -> Screen:
    area = _area(turn)
    if area is None:
        return _ended(turn)
    row = await current_level(turn.session, area.key)
    decider = await alerts.who(turn.services, turn.session, row.set_by_member_id) if row else None
    current = alerts.level_of(row)
    text = turn.render(TEMPLATE, "level_menu", area_name=area.name, current=current, row=row,
                       who=decider, refused=refused_targets(current))
    buttons = [Button(f"{EMOJI[level]} {level.display_name}", "l", level.name)
               for level in allowed_targets(current)]
    return Screen(text, [*in_rows(buttons, 2), [Button(HISTORY_LABEL, "h")]], back=True)


async def _reason_prompt(turn: Turn) -> Screen:
    area, level = _area(turn), _level(turn)
    if area is None or level is None:
        return _ended(turn)
    current = alerts.level_of(await current_level(turn.session, area.key))
    text = turn.render(TEMPLATE, "reason_prompt", area_name=area.name, level=level,
                       current=current, max=REASON_MAX)
    return Screen(text, back=True, wants_text=True)


async def _history(turn: Turn) -> Screen:
    area = _area(turn)
    if area is None:
        return _ended(turn)
    services, session = turn.services, turn.session
    rows = await level_history(session, area.key, limit=HISTORY_LIMIT)
    names: dict[int | None, str] = {}
    for row in rows:
        if row.set_by_member_id not in names:
            names[row.set_by_member_id] = await alerts.who(services, session,
                                                           row.set_by_member_id)
    header = turn.render(TEMPLATE, "history_header", area_name=area.name,
                         current=alerts.level_of(rows[0] if rows else None))
    blocks = [turn.render(TEMPLATE, "history_entry", row=row, level=Level(row.level),
                          who=names[row.set_by_member_id]) for row in rows]
    text, page, pages = page_of(blocks or [turn.render(TEMPLATE, "history_empty")], turn.page,
                                header=header, separator="\n\n")
    if pages > 1:
        text = f"{text}\n\n{turn.render('dialogs', 'page_of', page=page + 1, pages=pages)}"
    return Screen(text, back=turn.data.get("from") is not None, cancel=False,
                  page=(page, pages))


# ---------------------------------------------------------------- answers

async def _chose_area(turn: Turn, action: str, arg: str) -> Next:
    area = turn.services.config.area(arg)
    if area is None or action != "a":
        raise _refuse(turn)
    turn.data.update(area=area.key, level=None)
    return LEVEL


async def _chose_history_area(turn: Turn, action: str, arg: str) -> Next:
    area = turn.services.config.area(arg)
    if area is None or action != "h":
        raise _refuse(turn)
    turn.data["area"], turn.data["from"] = area.key, HISTORY_AREAS
    return HISTORY


async def _chose_level(turn: Turn, action: str, arg: str) -> Next:
    area = _area(turn)
    if area is None:
        raise _refuse(turn)
    if action == "h" and not arg:
        turn.data["from"] = LEVEL
        return HISTORY
    level = level_named(arg) if action == "l" else None
    if level is None:
        raise _refuse(turn)
    current = alerts.level_of(await current_level(turn.session, area.key))
    verdict = check_transition(current, level)
    if not verdict.allowed:
        raise Invalid(turn.render(TEMPLATE, "refused", explanation=verdict.reason_sv))
    turn.data["level"] = level.name
    return REASON


async def _typed_reason(turn: Turn, text: str) -> Next:
    """The reason: checked, then the change is stored (once) and announced after the commit."""
    services = turn.services
    if not await coordinator_chat(turn):
        raise Invalid(turn.render(TEMPLATE, "only_coordinators"))
    area, level = _area(turn), _level(turn)
    if area is None or level is None:
        raise _refuse(turn)
    checked = check_reason(text)
    if checked.problem is not None:
        # Kept nowhere, not even in the chat; the refusal says whether that worked.
        turn.delete_incoming = True
        raise Invalid(turn.render(TEMPLATE, "reason_refused", problem=checked.problem,
                                  deleted=True, in_group=turn.in_group),
                      if_kept=turn.render(TEMPLATE, "reason_refused", problem=checked.problem,
                                          deleted=False, in_group=turn.in_group))
    if checked.too_short:
        raise Invalid(turn.render(TEMPLATE, "reason_too_short"))
    # The lock keeps alert decisions of this area out while the change is checked and written.
    async with alerts.area_lock(area.key):
        current = alerts.level_of(await current_level(turn.session, area.key))
        verdict = check_transition(current, level)
        if not verdict.allowed:
            raise Invalid(turn.render(TEMPLATE, "refused", explanation=verdict.reason_sv))
        row = await record_level(turn.session, area_key=area.key, level=level.value,
                                 reason=checked.reason, member_id=turn.actor.member_id,
                                 now=turn.now)
    change = dict(area_key=area.key, old=current, new=level, reason=row.reason,
                  decided_by=await alerts.who(services, turn.session, turn.actor.member_id),
                  at=row.set_at)
    bot, level_id, member_id = turn.bot, row.id, turn.actor.member_id
    # A group hears of the change in the answer; the push skips it.
    here = [turn.row.chat_id] if turn.in_group else []
    turn.after.append(lambda: after_change(services, bot, level_id=level_id, member_id=member_id,
                                           skip_chat_ids=here, **change))
    if turn.in_group:
        return Finish(alerts.level_text(services, **change))
    return Finish(turn.render(TEMPLATE, "saved", area_name=area.name, new=level,
                              notify_field=level in alerts.FIELD_LEVELS, notice=checked.notice))


async def after_change(services: Services, bot, *, level_id: int, area_key: str, old: Level,
                       new: Level, reason: str, decided_by: str, at, member_id: int,
                       skip_chat_ids: list[int]) -> None:
    """Close the suggestions the change meets, then push it to the groups and the field."""
    await alerts.close_superseded(services, bot, area_key, new, member_id=member_id)
    await alerts.announce_level(services, bot, level_id=level_id, area_key=area_key, old=old,
                                new=new, reason=reason, decided_by=decided_by, at=at,
                                skip_chat_ids=skip_chat_ids)


DIALOG = coordination_dialog(KIND, TEMPLATE, AREAS, {
    AREAS: Step(_areas, press=_chose_area),
    HISTORY_AREAS: Step(_history_areas, press=_chose_history_area),
    LEVEL: Step(_level_menu, press=_chose_level, back=AREAS),
    REASON: Step(_reason_prompt, text=_typed_reason, back=LEVEL),
    HISTORY: Step(_history, back=lambda turn: turn.data.get("from")),
})


# ---------------------------------------------------------------- the command

async def niva_command(update: Update, context: BotContext) -> None:
    """``/niva``, ``/niva <område>``, ``/niva historik [område]``."""
    services = context.services
    if not await coordinator_here(update, context):
        await send(update, services.render(TEMPLATE, "only_coordinators"))
        return
    args = list(context.args or [])
    history = bool(args) and args[0].casefold() in HISTORY_WORDS
    rest = " ".join(args[1:] if history else args).strip()
    if not rest:
        await context.dialogs.start(update, context, KIND, step=HISTORY_AREAS if history
                                    else AREAS)
        return
    if find_personnummer(rest):
        # Never kept, never named back: the command's message leaves the chat if it can.
        deleted = await delete_quietly(update.effective_message)
        await send(update, services.render(
            TEMPLATE, "argument_refused", deleted=deleted,
            in_group=update.effective_chat.type != ChatType.PRIVATE))
        return
    area = find_area(services.config, rest)
    if area is None:
        # Named back only when short, and with contact details masked.
        echo = mask_contact_details(rest).text if len(rest) <= ECHO_MAX else None
        await send(update, services.render(TEMPLATE, "unknown_area", text=echo,
                                           areas=[a.name for a in services.config.areas]))
        return
    await context.dialogs.start(update, context, KIND, data={"area": area.key},
                                step=HISTORY if history else LEVEL)


def build_niva_handlers() -> list[BaseHandler]:
    """``/niva`` in private and in groups; its presses and reasons go through the engine."""
    return [CommandHandler("niva", niva_command)]
