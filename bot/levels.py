"""``/niva``: a coordinator changes an area's level, with a required reason.

Buttons: area → level (only the changes est.levels allows from the current level; the
others are listed with the reason they are refused) → the bot asks for the reason with
a ForceReply prompt, and the coordinator's reply to that prompt records the change.

Where the pending choice lives: in the prompt itself. Its first line names the area and
the level ("✍ Skäl till Gult läge i Vivalla?"); the reply carries the prompt along as
``reply_to_message``, and the line is matched against the prompts the bot could have
sent. Nothing is kept in memory or in a table, so a restart between the choice and the
reply loses nothing, a replayed reply records nothing twice (it only finishes an
announcement that a crash cut short: the pushes go through the outbox, keyed by the
AreaLevel row, so nobody gets one twice), and it works in a group with privacy mode
(the bot only sees replies to its own messages there). Every reply
is checked again on arrival: the sender must be a coordinator, and the transition must
still be allowed from the level that holds *now*. Any coordinator may answer a prompt;
the one who answers is recorded as having decided.

Callback data: ``lv:m`` area menu, ``lv:hm`` history menu, ``lv:a:<area>`` level menu,
``lv:l:<area>:<LEVEL NAME>`` choose a level, ``lv:h:<area>`` history, ``lv:x`` cancel.
``/niva historik <område>`` shows the full history of an area.
"""

from __future__ import annotations

import html
import re

from telegram import ForceReply, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import alerts
from bot.access import coordinator_here
from bot.alerts import FIELD_LEVELS, area_lock, level_of, who
from bot.context import BotContext
from bot.delivery import send_once
from bot.services import Services
from bot.telegram_io import answer, callback, in_rows, keyboard, send, show
from est.config import Area
from est.levels import Level, allowed_targets, check_transition
from est.privacy import check_free_text
from messages import labels
from storage.levels import current_level, level_history, record_level

PREFIX = "lv"
EMOJI = {Level.GRON: "🟢", Level.GUL: "🟡", Level.ROD: "🔴", Level.ORANGE: "🟠"}
HISTORY_LABEL = "📜 Historik"
HISTORY_WORDS = ("historik", "historia")
REASON_MIN, REASON_MAX = 3, 400
PROMPT_MARK = "✍"
HISTORY_LIMIT = 10_000
CHUNK = 3800  # below Telegram's 4096, with room for the entities' markup
_TAG = re.compile(r"<[^>]+>")


# ---------------------------------------------------------------- who may

def _find_area(services: Services, text: str) -> Area | None:
    wanted = text.strip().casefold()
    return next((a for a in services.config.areas
                 if wanted in (a.key.casefold(), a.name.casefold())), None)


# ---------------------------------------------------------------- screens

async def _area_menu(services: Services, history: bool = False):
    async with services.db.session() as session:
        levels = {a.key: level_of(await current_level(session, a.key))
                  for a in services.config.areas}
    action = "h" if history else "a"
    buttons = [(f"{EMOJI[levels[a.key]]} {a.name}", callback(PREFIX, action, a.key))
               for a in services.config.areas]
    rows = [*in_rows(buttons, 2), [(labels.CANCEL, callback(PREFIX, "x"))]]
    return services.render("levels", "area_menu", history=history), keyboard(rows)


async def _level_menu(services: Services, area: Area):
    async with services.db.session() as session:
        row = await current_level(session, area.key)
        decider = await who(services, session, row.set_by_member_id) if row else None
    current = level_of(row)
    targets = allowed_targets(current)
    refused = [(level, check_transition(current, level).reason_sv)
               for level in Level if level != current and level not in targets]
    text = services.render("levels", "level_menu", area_name=area.name, current=current,
                           row=row, who=decider, refused=refused)
    buttons = [(f"{EMOJI[level]} {level.display_name}",
                callback(PREFIX, "l", area.key, level.name)) for level in targets]
    rows = [*in_rows(buttons, 2), [(HISTORY_LABEL, callback(PREFIX, "h", area.key))],
            [(labels.BACK, callback(PREFIX, "m")), (labels.CANCEL, callback(PREFIX, "x"))]]
    return text, keyboard(rows)


async def _send_history(update: Update, services: Services, area: Area) -> None:
    """The full history, newest first, split between entries to fit Telegram's limit."""
    async with services.db.session() as session:
        rows = await level_history(session, area.key, limit=HISTORY_LIMIT)
        names = {}
        for row in rows:
            if row.set_by_member_id not in names:
                names[row.set_by_member_id] = await who(services, session, row.set_by_member_id)
    parts = [services.render("levels", "history_header", area_name=area.name,
                             current=level_of(rows[0] if rows else None))]
    parts += [services.render("levels", "history_entry", row=row, level=Level(row.level),
                              who=names[row.set_by_member_id]) for row in rows]
    if not rows:
        parts.append(services.render("levels", "history_empty"))
    chunk = ""
    for part in parts:
        if chunk and len(chunk) + 2 + len(part) > CHUNK:
            await send(update, chunk)
            chunk = ""
        chunk = f"{chunk}\n\n{part}" if chunk else part
    await send(update, chunk)


# ---------------------------------------------------------------- the reason prompt

def _plain_first_line(rendered: str) -> str:
    """The first line as Telegram shows it: tags gone, entities decoded."""
    return html.unescape(_TAG.sub("", rendered.split("\n", 1)[0])).strip()


def decode_prompt(services: Services, prompt: Message | None) -> tuple[Area, Level] | None:
    """Area and level a reason prompt asked about, or None for any other message."""
    if prompt is None or not prompt.text:
        return None
    line = prompt.text.split("\n", 1)[0].strip()
    for area in services.config.areas:
        for level in Level:
            expected = services.render("levels", "reason_prompt", area_name=area.name,
                                       level=level)
            if _plain_first_line(expected) == line:
                return area, level
    return None


# The shape of a prompt's first line; decode_prompt then matches it exactly.
_PROMPT_LINE = re.compile(
    rf"^{PROMPT_MARK} Skäl till ({'|'.join(re.escape(lv.display_name) for lv in Level)}) i .+\?$"
)


class _ReasonReply(filters.MessageFilter):
    """Typed text that answers one of the bot's reason prompts (and nothing else's)."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        if not message.text or message.text.startswith("/") or replied is None:
            return False
        author = replied.from_user
        first_line = (replied.text or "").split("\n", 1)[0].strip()
        return (author is not None and author.is_bot and author.id == message.get_bot().id
                and _PROMPT_LINE.match(first_line) is not None)


REASON_REPLY = _ReasonReply(name="REASON_REPLY")


async def _ask_reason(update: Update, context: BotContext, area: Area, level: Level) -> None:
    services, chat, user = context.services, update.effective_chat, update.effective_user
    in_group = chat.type != ChatType.PRIVATE
    # In a group, the mention makes the selective ForceReply open for the presser only.
    mention = {"id": user.id, "name": user.first_name} if in_group else None
    text = services.render("levels", "reason_prompt", area_name=area.name, level=level,
                           mention=mention)
    await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=ForceReply(
        selective=in_group, input_field_placeholder="Skäl till ändringen"))


# ---------------------------------------------------------------- handlers

async def niva_command(update: Update, context: BotContext) -> None:
    services = context.services
    if not await coordinator_here(update, context):
        await send(update, services.render("levels", "only_coordinators"))
        return
    args = list(context.args or [])
    history = bool(args) and args[0].casefold() in HISTORY_WORDS
    rest = " ".join(args[1:] if history else args).strip()
    if rest:
        area = _find_area(services, rest)
        if area is None:
            await send(update, services.render("levels", "unknown_area", text=rest,
                                               areas=[a.name for a in services.config.areas]))
        elif history:
            await _send_history(update, services, area)
        else:
            await send(update, *await _level_menu(services, area))
        return
    await send(update, *await _area_menu(services, history))


async def on_button(update: Update, context: BotContext) -> None:
    services = context.services
    if not await coordinator_here(update, context):
        await answer(update, services.render("levels", "only_coordinators"), alert=True)
        return
    parts = (update.callback_query.data or "").split(":")
    action, args = (parts[1], parts[2:]) if len(parts) >= 2 else ("", [])
    area = services.config.area(args[0]) if args else None
    if action == "x" and not args:
        await answer(update)
        await show(update, services.render("levels", "cancelled"))
    elif action in ("m", "hm") and not args:
        await answer(update)
        await show(update, *await _area_menu(services, history=action == "hm"))
    elif action == "a" and area is not None and len(args) == 1:
        await answer(update)
        await show(update, *await _level_menu(services, area))
    elif action == "h" and area is not None and len(args) == 1:
        await answer(update)
        await _send_history(update, services, area)
    elif action == "l" and area is not None and len(args) == 2 and args[1] in Level.__members__:
        await _choose_level(update, context, area, Level[args[1]])
    else:
        await answer(update, services.render("levels", "ended"))


async def _choose_level(update: Update, context: BotContext, area: Area, level: Level) -> None:
    services = context.services
    async with services.db.session() as session:
        current = level_of(await current_level(session, area.key))
    verdict = check_transition(current, level)
    if not verdict.allowed:
        await answer(update, services.render("levels", "refused",
                                             explanation=verdict.reason_sv), alert=True)
        await show(update, *await _level_menu(services, area))
        return
    await answer(update)
    await show(update, services.render("levels", "chosen", area_name=area.name,
                                       current=current, new=level))
    await _ask_reason(update, context, area, level)


async def on_reason(update: Update, context: BotContext) -> None:
    """The reply to a reason prompt: check everything again, then record and announce."""
    services, message = context.services, update.effective_message
    decoded = decode_prompt(services, message.reply_to_message)
    if decoded is None:
        return
    if not await coordinator_here(update, context):
        await send(update, services.render("levels", "only_coordinators"))
        return
    area, level = decoded
    actor = context.member
    checked = check_free_text(message.text, max_len=REASON_MAX)
    if not checked.ok:
        await send(update, services.render("levels", "reason_refused", problem=checked.problem))
        return
    reason = checked.text
    if len(reason) < REASON_MIN:
        await send(update, services.render("levels", "reason_too_short"))
        return
    chat = update.effective_chat
    in_group = chat.type != ChatType.PRIVATE
    async with area_lock(area.key), services.db.session() as session:
        row = await current_level(session, area.key)
        current = level_of(row)
        replayed = (row is not None and row.level == level.value and row.reason == reason
                    and row.set_by_member_id == actor.member_id)
        verdict = check_transition(current, level)
        if not replayed and not verdict.allowed:
            await send(update, services.render("levels", "refused",
                                               explanation=verdict.reason_sv))
            return
        if not replayed:
            row = await record_level(session, area_key=area.key, level=level.value,
                                     reason=reason, member_id=actor.member_id,
                                     now=services.now())
            await session.commit()
        decider = await who(services, session, actor.member_id)
        if replayed:
            # Announced as it was then: from the level before that change.
            previous = await level_history(session, area.key, limit=2)
            current = level_of(previous[1] if len(previous) > 1 else None)
    change = dict(area_key=area.key, old=current, new=level, reason=reason, decided_by=decider,
                  at=row.set_at)
    if in_group and not replayed:
        # This group gets the announcement here, as the answer, through the outbox so
        # that the push to the groups below does not post it here a second time.
        await send_once(services, context.bot, kind=alerts.LEVEL_KIND, key=str(row.id),
                        chat_id=chat.id, text=alerts.level_text(services, **change))
    else:
        await send(update, services.render("levels", "saved", area_name=area.name, new=level,
                                           notify_field=level in FIELD_LEVELS))
    # Also for a replayed reply (a redelivered update after a crash): the outbox sends
    # only what did not go out the first time.
    services.spawn(_after_change(services, context.bot, level_id=row.id,
                                 member_id=actor.member_id, **change),
                   f"level-{area.key}-{row.id}")


async def _after_change(services: Services, bot, *, level_id: int, area_key: str, old: Level,
                        new: Level, reason: str, decided_by: str, at, member_id: int) -> None:
    await alerts.close_superseded(services, bot, area_key, new, member_id=member_id)
    await alerts.announce_level(services, bot, level_id=level_id, area_key=area_key, old=old,
                                new=new, reason=reason, decided_by=decided_by, at=at)


def build_level_handlers() -> list[BaseHandler]:
    """``/niva`` and its buttons, the reason replies, and the alert buttons."""
    return [
        CommandHandler("niva", niva_command),
        CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"),
        CallbackQueryHandler(alerts.on_alert_button, pattern=rf"^{alerts.PREFIX}:"),
        MessageHandler(REASON_REPLY, on_reason),
    ]
