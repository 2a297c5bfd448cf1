"""``/agenda``: coordinators flag what the Thursday meeting must take up (points 5–7).

``/agenda`` lists the open items of points 5 (Behov av nya beslut eller förstärkning),
6 (Behov av ytterligare samordning på kort sikt) and 7 (Påverkas andra verksamheter som
behöver informeras), each with a "Klar" button, and three buttons to flag something new.
A flag button asks for the text with a ForceReply prompt; the coordinator's reply (at
most 300 characters, checked with ``est.privacy.check_free_text``) is stored as an
``AgendaItem`` and appears in the next digest (``bot.posts.compose_digest``). "Klar"
sets ``resolved_at``; resolved items leave the agenda.

Where the pending choice lives: in the prompt, as with /niva. Its first line names the
point ("📌 Punkt 5 – Behov av nya beslut eller förstärkning"); the reply carries the
prompt along as ``reply_to_message``, so nothing waits in memory or in a table (no
half-made rows with empty text), a restart between the press and the reply loses
nothing, and it works in a group with privacy mode. A replayed reply adds nothing twice:
an open item of the same kind with the same text from the same member is the same item.

Works in private and in registered coordinator groups, for coordinators and admins;
every press and reply is checked again. Callback data: ``ag:l`` (list), ``ag:n:<kind>``
(flag), ``ag:k:<item id>`` (mark as done).

Wiring note: the reply handler must run before the planning and report dialogs' text
handlers, which take every private text; ``build_agenda_handlers`` belongs before
``build_planning_handlers`` in ``bot.app`` (next to the level handlers).
"""

from __future__ import annotations

import html
import re
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import ForceReply, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.access import coordinator_here
from bot.context import BotContext
from bot.services import Services
from bot.telegram_io import answer, callback, delete_quietly, in_rows, keyboard, send, show
from est.config import DeploymentConfig
from est.digest import AGENDA_KINDS, AgendaEntry, agenda_point, flagged_items
from est.privacy import check_free_text
from storage.models import AgendaItem, Member

PREFIX = "ag"
TEMPLATE = "agenda"
TEXT_MAX = 300  # AgendaItem.text
SHOWN = 10  # items listed with a Klar button; 10 × 300 characters fit in one message
PROMPT_MARK = "📌"
KIND_BUTTONS = {
    "beslut": "➕ Nytt beslut/förstärkning",
    "samordning": "➕ Samordning",
    "informera": "➕ Informera andra",
}
REFRESH = "🔄 Uppdatera"
_POINT_KIND = {number: kind for kind, number in AGENDA_KINDS.items()}
_PROMPT_LINE = re.compile(rf"^{PROMPT_MARK} Punkt ([567]) – ")


# ---------------------------------------------------------------- storage

async def add_item(session: AsyncSession, *, kind: str, text: str, member_id: int | None,
                   now: datetime, area_key: str | None = None) -> tuple[AgendaItem, bool]:
    """Store a flagged item; (item, created). The same open item is not stored twice."""
    if kind not in AGENDA_KINDS:
        raise ValueError(f"unknown agenda kind {kind!r}")
    same = await session.exec(select(AgendaItem).where(
        AgendaItem.kind == kind, AgendaItem.text == text,
        AgendaItem.created_by_member_id == member_id, col(AgendaItem.resolved_at).is_(None)))
    existing = same.first()
    if existing is not None:
        return existing, False
    item = AgendaItem(kind=kind, text=text, area_key=area_key, created_by_member_id=member_id,
                      created_at=now)
    session.add(item)
    await session.flush()
    return item, True


async def open_items(session: AsyncSession, *, at: datetime) -> list[AgendaItem]:
    """Items flagged up to ``at`` and not resolved by then, oldest first."""
    query = select(AgendaItem).where(
        col(AgendaItem.created_at) <= at,
        col(AgendaItem.resolved_at).is_(None) | (col(AgendaItem.resolved_at) > at),
    )
    return list((await session.exec(query.order_by(col(AgendaItem.created_at),
                                                   col(AgendaItem.id)))).all())


async def agenda_entries(session: AsyncSession, *, at: datetime) -> list[AgendaEntry]:
    """The open items as plain data with the flagging member's organisation (no name)."""
    items = await open_items(session, at=at)
    member_ids = {i.created_by_member_id for i in items if i.created_by_member_id is not None}
    orgs: dict[int, str] = {}
    if member_ids:
        rows = await session.exec(select(Member.id, Member.org_key)
                                  .where(col(Member.id).in_(member_ids)))
        orgs = dict(rows.all())
    return [AgendaEntry(item_id=i.id, kind=i.kind, text=i.text, area_key=i.area_key,
                        org_key=orgs.get(i.created_by_member_id), created_at=i.created_at)
            for i in items]


async def resolve_item(session: AsyncSession, item_id: int, now: datetime
                       ) -> tuple[AgendaItem | None, bool]:
    """Mark an item done; (item, changed). None when there is no such item."""
    item = (await session.exec(select(AgendaItem).where(AgendaItem.id == item_id)
                               .with_for_update())).first()
    if item is None or item.resolved_at is not None:
        return item, False
    item.resolved_at = now
    session.add(item)
    await session.flush()
    return item, True


# ---------------------------------------------------------------- who may

async def _refuse(update: Update, context: BotContext) -> None:
    text = context.services.render(TEMPLATE, "coordinators_only")
    if update.callback_query is not None:
        await answer(update, text, alert=True)
    else:
        await send(update, text)


# ---------------------------------------------------------------- screens

def _points(config: DeploymentConfig,
            entries: list[AgendaEntry]) -> tuple[list[dict], list[int], int]:
    """Points 5–7 with their shown items, the ids shown, and how many were left out."""
    flagged = flagged_items(config, entries)
    shown_ids = [e.item_id for e in sorted(entries, key=lambda e: (e.created_at, e.item_id))
                 ][:SHOWN]
    points = [{"point": agenda_point(AGENDA_KINDS[kind]),
               "items": [i for i in flagged[kind] if i.item_id in shown_ids]}
              for kind in AGENDA_KINDS]
    ordered = [i.item_id for p in points for i in p["items"]]
    return points, ordered, max(0, len(entries) - len(shown_ids))


async def overview(services: Services, notice: str | None = None
                   ) -> tuple[str, InlineKeyboardMarkup]:
    async with services.db.session() as session:
        entries = await agenda_entries(session, at=services.now())
    points, shown_ids, left_out = _points(services.config, entries)
    text = services.render(TEMPLATE, "overview", points=points, left_out=left_out,
                           notice=notice)
    done = [(f"✔ Klar #{item_id}", callback(PREFIX, "k", item_id)) for item_id in shown_ids]
    rows = [*in_rows(done, 3),
            *[[(label, callback(PREFIX, "n", kind))] for kind, label in KIND_BUTTONS.items()],
            [(REFRESH, callback(PREFIX, "l"))]]
    return text, keyboard(rows)


# ---------------------------------------------------------------- the prompt

class _AgendaReply(filters.MessageFilter):
    """Typed text that answers one of the bot's agenda prompts (and nothing else's)."""

    def filter(self, message: Message) -> bool:
        replied = message.reply_to_message
        if not message.text or message.text.startswith("/") or replied is None:
            return False
        author = replied.from_user
        return (author is not None and author.is_bot and author.id == message.get_bot().id
                and decode_prompt(replied) is not None)


AGENDA_REPLY = _AgendaReply(name="AGENDA_REPLY")


def decode_prompt(prompt: Message | None) -> str | None:
    """The agenda kind a prompt asked for, or None for any other message."""
    if prompt is None or not prompt.text:
        return None
    match = _PROMPT_LINE.match(prompt.text.split("\n", 1)[0].strip())
    if match is None:
        return None
    number = int(match[1])
    expected = f"{PROMPT_MARK} Punkt {number} – {agenda_point(number).heading}"
    if prompt.text.split("\n", 1)[0].strip() != expected:
        return None
    return _POINT_KIND[number]


async def _ask(update: Update, context: BotContext, kind: str) -> None:
    services, chat, user = context.services, update.effective_chat, update.effective_user
    in_group = chat.type != ChatType.PRIVATE
    # In a group, the mention makes the selective ForceReply open for the presser only.
    mention = {"id": user.id, "name": user.first_name} if in_group else None
    text = services.render(TEMPLATE, "prompt", point=agenda_point(AGENDA_KINDS[kind]),
                           max=TEXT_MAX, mention=mention)
    await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=ForceReply(
        selective=in_group, input_field_placeholder="Vad ska tas upp?"))


# ---------------------------------------------------------------- handlers

async def agenda_command(update: Update, context: BotContext) -> None:
    if not await coordinator_here(update, context):
        await _refuse(update, context)
        return
    await send(update, *await overview(context.services))


async def on_button(update: Update, context: BotContext) -> None:
    services = context.services
    if not await coordinator_here(update, context):
        await _refuse(update, context)
        return
    parts = (update.callback_query.data or "").split(":")
    action, args = (parts[1], parts[2:]) if len(parts) >= 2 else ("", [])
    if action == "l" and not args:
        await answer(update)
        await show(update, *await overview(services))
    elif action == "n" and len(args) == 1 and args[0] in AGENDA_KINDS:
        await answer(update)
        await _ask(update, context, args[0])
    elif action == "k" and len(args) == 1 and args[0].isdigit():
        item_id = int(args[0])
        async with services.db.session() as session:
            item, changed = await resolve_item(session, item_id, services.now())
            await session.commit()
        if item is None:
            notice = services.render(TEMPLATE, "unknown_item")
        elif changed:
            notice = services.render(TEMPLATE, "resolved", item_id=item_id)
        else:
            notice = services.render(TEMPLATE, "already_resolved", item_id=item_id)
        await answer(update, notice)
        await show(update, *await overview(services, notice))
    else:
        await answer(update, services.render(TEMPLATE, "ended"))


async def on_reply(update: Update, context: BotContext) -> None:
    """The reply to a prompt: check who and what, then store the item once."""
    services, message = context.services, update.effective_message
    kind = decode_prompt(message.reply_to_message)
    if kind is None:
        return
    if not await coordinator_here(update, context):
        await _refuse(update, context)
        return
    checked = check_free_text(message.text, max_len=TEXT_MAX)
    if not checked.ok:
        # A refused text (a personnummer, say) is kept nowhere, not even in the chat.
        await delete_quietly(message)
        await send(update, services.render(TEMPLATE, "refused", problem=checked.problem))
        return
    text = " ".join(checked.text.split())
    async with services.db.session() as session:
        await add_item(session, kind=kind, text=text, member_id=context.member.member_id,
                       now=services.now())
        await session.commit()
    saved = services.render(TEMPLATE, "saved", point=agenda_point(AGENDA_KINDS[kind]),
                            text=text)
    if checked.notice:
        saved = f"{saved}\n\n<i>{html.escape(checked.notice)}</i>"
    await send(update, saved)


def build_agenda_handlers() -> list[BaseHandler]:
    """``/agenda``, its buttons and the replies to its prompts."""
    return [
        CommandHandler("agenda", agenda_command),
        CallbackQueryHandler(on_button, pattern=rf"^{PREFIX}:"),
        MessageHandler(AGENDA_REPLY, on_reply),
    ]
