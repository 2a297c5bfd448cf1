"""``/agenda``: coordinators flag what the Thursday meeting must take up (points 5–7).

A dialog on the engine (bot/dialogs), in a private chat or in a registered
coordinator group. The overview lists the open items of points 5 (Behov av nya
beslut eller förstärkning), 6 (Behov av ytterligare samordning på kort sikt) and 7
(Påverkas andra verksamheter som behöver informeras), each with a "Klar" button, in
pages that fit Telegram, and three buttons to flag something new. A flag button
asks for the text (a step that takes typed text: in a group a ForceReply prompt,
and only a reply to it counts); the text is checked (``est.agenda``), stored as an
``AgendaItem`` (storage.agenda) in the turn, and the overview is shown again. The
item appears in the next digest (``bot.outbound.posts.compose_digest``). "Klar" sets
``resolved_at``; resolved items leave the agenda. A redelivered text adds nothing
twice (the engine recognises its update id, and an open item with the same text
from the same member is the same item).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler

from bot.core.access import coordinator_here
from bot.core.context import BotContext
from bot.core.telegram_io import in_rows, send
from bot.dialogs import Button, Invalid, Next, Screen, Step, Turn
from bot.dialogs.callbacks import row_id
from bot.dialogs.paging import page_of
from bot.features.coordination import coordination_dialog, coordinator_chat
from est.agenda import TEXT_MAX, check_item_text, point_of
from est.digest import AGENDA_KINDS, agenda_point, flagged_items
from storage.agenda import add_item, agenda_entries, resolve_item

KIND = "agenda"
OVERVIEW, ITEM = "overview", "item"
TEMPLATE = "agenda"
KIND_BUTTONS = {
    "beslut": "➕ Nytt beslut/förstärkning",
    "samordning": "➕ Samordning",
    "informera": "➕ Informera andra",
}
REFRESH = "🔄 Uppdatera"
# Every item shown has a "Klar" button, and Telegram takes about 100 buttons a message.
ITEMS_PER_PAGE = 30


def _chunks(blocks: list[tuple[str, int | None]]) -> list[list[tuple[str, int | None]]]:
    """Consecutive runs of blocks with at most ITEMS_PER_PAGE items each."""
    chunks: list[list[tuple[str, int | None]]] = [[]]
    count = 0
    for block, item_id in blocks:
        if item_id is not None:
            if count == ITEMS_PER_PAGE:
                chunks.append([])
                count = 0
            count += 1
        chunks[-1].append((block, item_id))
    return chunks


def _page(blocks: list[tuple[str, int | None]], wanted: int, *, header: str,
          footer: str) -> tuple[str, list[int], int, int]:
    """Page ``wanted`` (clamped): its text, the items on it, its number and the page count.

    Pages fit Telegram's limit (``page_of``) and hold at most ITEMS_PER_PAGE items.
    """
    chunked = _chunks(blocks)
    chunks = [[block for block, _ in chunk] for chunk in chunked]
    counts = [page_of(chunk, 0, header=header, footer=footer)[2] for chunk in chunks]
    pages = sum(counts)
    wanted = min(max(wanted, 0), pages - 1)
    index = first = 0
    while wanted >= first + counts[index]:
        first += counts[index]
        index += 1
    text, _, _ = page_of(chunks[index], wanted - first, header=header, footer=footer)
    text = text.replace("\n\n\n", "\n\n")  # a point that opens a page
    # An item's block (its id, text and the markup around them) only ever shows as itself.
    shown = [item_id for block, item_id in chunked[index]
             if item_id is not None and block in text]
    return text, shown, wanted, pages


# ---------------------------------------------------------------- views

async def _overview(turn: Turn) -> Screen:
    # The notice goes into the page's header, where the page has room for it.
    notice, turn.notice = turn.notice, None
    entries = await agenda_entries(turn.session, at=turn.now)
    flagged = flagged_items(turn.services.config, entries)
    blocks: list[tuple[str, int | None]] = []
    for kind, number in AGENDA_KINDS.items():
        items = flagged[kind]
        first = items[0] if items else None
        point = turn.render(TEMPLATE, "point", point=agenda_point(number), first=first)
        # A blank line before each point but the first (a page never starts with one).
        blocks.append((f"\n{point}" if blocks else point, first.item_id if first else None))
        blocks += [(turn.render(TEMPLATE, "item", i=i), i.item_id) for i in items[1:]]
    text, shown, page, pages = _page(
        blocks, turn.page, header=turn.render(TEMPLATE, "overview_header", notice=notice),
        footer=turn.render(TEMPLATE, "overview_footer"))
    if pages > 1:
        text = f"{text}\n\n{turn.render('dialogs', 'page_of', page=page + 1, pages=pages)}"
    done = [Button(f"✔ Klar #{item_id}", "k", str(item_id)) for item_id in shown]
    rows = [*in_rows(done, 3),
            *[[Button(label, "n", kind)] for kind, label in KIND_BUTTONS.items()],
            [Button(REFRESH, "l")]]
    return Screen(text, rows, cancel=False, page=(page, pages))


def _prompt(turn: Turn) -> Screen:
    point = point_of(turn.data.get("kind") or "")
    if point is None:
        return Screen(turn.render(TEMPLATE, "ended"), back=True)
    return Screen(turn.render(TEMPLATE, "prompt", point=point, max=TEXT_MAX), back=True,
                  wants_text=True)


# ---------------------------------------------------------------- answers

async def _may_change(turn: Turn) -> None:
    if not await coordinator_chat(turn):
        raise Invalid(turn.render(TEMPLATE, "coordinators_only"))


async def _on_overview(turn: Turn, action: str, arg: str) -> Next:
    if action == "l" and not arg:
        return OVERVIEW
    if action == "n" and arg in KIND_BUTTONS:
        turn.data["kind"] = arg
        return ITEM
    item_id = row_id(arg) if action == "k" else None
    if item_id is None:
        raise Invalid(turn.render(TEMPLATE, "ended"))
    await _may_change(turn)
    item, changed = await resolve_item(turn.session, item_id, turn.now)
    if item is None:
        turn.notice = turn.render(TEMPLATE, "unknown_item")
    elif changed:
        turn.notice = turn.render(TEMPLATE, "resolved", item_id=item_id)
    else:
        turn.notice = turn.render(TEMPLATE, "already_resolved", item_id=item_id)
    turn.toast = turn.notice
    return OVERVIEW


async def _typed_item(turn: Turn, text: str) -> Next:
    await _may_change(turn)
    kind = turn.data.get("kind") or ""
    point = point_of(kind)
    if point is None:
        raise Invalid(turn.render(TEMPLATE, "ended"))
    checked = check_item_text(text)
    if not checked.ok:
        # A refused text (a personnummer, say) is kept nowhere, not even in the chat.
        turn.delete_incoming = True
        raise Invalid(turn.render(TEMPLATE, "refused", problem=checked.problem))
    await add_item(turn.session, kind=kind, text=checked.text,
                   member_id=turn.actor.member_id, now=turn.now)
    turn.data["kind"] = None
    turn.notice = turn.render(TEMPLATE, "saved", point=point, text=checked.text,
                              notice=checked.notice)
    return OVERVIEW


DIALOG = coordination_dialog(KIND, TEMPLATE, OVERVIEW, {
    OVERVIEW: Step(_overview, press=_on_overview),
    ITEM: Step(_prompt, text=_typed_item, back=OVERVIEW),
})


async def agenda_command(update: Update, context: BotContext) -> None:
    if not await coordinator_here(update, context):
        await send(update, context.services.render(TEMPLATE, "coordinators_only"))
        return
    await context.dialogs.start(update, context, KIND)


def build_agenda_handlers() -> list[BaseHandler]:
    """``/agenda`` in private and in groups; its presses and texts go through the engine."""
    return [CommandHandler("agenda", agenda_command)]
