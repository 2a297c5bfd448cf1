"""``/lagesbild [område]``: the samlad lägesbild in chat, split into Telegram-sized pages.

Coordinators and admins get it in a private chat (förmedlade reports plus their own
organisation's egna); a registered coordinator group gets it for anyone who asks there
(förmedlade only, free text only if the config allows it). Reporters are refused.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.services import Services
from bot.telegram_io import answer, callback, in_rows, keyboard, send
from est.lagesbild import Picture, compose_picture, find_area
from est.visibility import free_text_allowed
from storage.members import group_by_chat
from storage.picture import picture_inputs

log = logging.getLogger(__name__)

PICTURE = "lb"
TEXT_LIMIT = 4096
SEPARATOR = "\n\n"


def text_size(html: str) -> int:
    """UTF-16 length of the HTML: an upper bound of what Telegram counts after parsing."""
    return len(html.encode("utf-16-le")) // 2


def _truncate(block: str, budget: int, marker: str) -> str:
    """The block's first lines that fit in ``budget`` together with ``marker``.

    Templates keep every line complete HTML, so cutting between lines never splits a tag.
    """
    kept: list[str] = []
    for line in block.split("\n"):
        if text_size("\n".join([*kept, line, marker])) > budget:
            break
        kept.append(line)
    return "\n".join([*kept, marker])


def pack_pages(header: str, continued: str, blocks: list[str], marker: str,
               limit: int = TEXT_LIMIT) -> list[str]:
    """Pack area blocks into messages of at most ``limit``, never splitting a block.

    The first page starts with ``header``, later ones with ``continued``. A block that
    does not fit on a page of its own is cut at a line boundary and ends with ``marker``.
    """
    pages: list[str] = []
    current, has_block = header, False
    for block in blocks:
        candidate = current + SEPARATOR + block
        if has_block and text_size(candidate) > limit:
            pages.append(current)
            current, has_block = continued, False
            candidate = current + SEPARATOR + block
        if text_size(candidate) <= limit:
            current, has_block = candidate, True
            continue
        budget = limit - text_size(current + SEPARATOR)
        pages.append(current + SEPARATOR + _truncate(block, budget, marker))
        current, has_block = continued, False
    if has_block or not pages:
        pages.append(current)
    return pages


def render_pages(services: Services, picture: Picture, in_group: bool) -> list[str]:
    """The picture as HTML messages of at most 4096 characters, split between areas."""
    render = services.render
    header = render("lagesbild", "header", p=picture, in_group=in_group)
    continued = render("lagesbild", "continued", p=picture)
    blocks = [render("lagesbild", "area", a=area, p=picture) for area in picture.areas]
    return pack_pages(header, continued, blocks, render("lagesbild", "truncated"))


async def build_picture_pages(
    services: Services, viewer_org_key: str | None, in_group: bool,
    area_key: str | None = None,
) -> list[str]:
    """The samlad lägesbild as ready-to-send pages (also for scheduled posts).

    In a group (``in_group``) only förmedlade reports count and ``viewer_org_key`` is
    ignored; in private the viewer's own organisation's egna reports are added.
    """
    config, now = services.config, services.now()
    async with services.db.session() as session:
        inputs = await picture_inputs(session, now=now, area_key=area_key,
                                      with_texts=free_text_allowed(in_group, config))
    picture = compose_picture(
        config, inputs.facts, inputs.levels, inputs.events, inputs.insatser, now, area_key,
        viewer_org_key=viewer_org_key, in_group=in_group, free_texts=inputs.texts,
    )
    return render_pages(services, picture, in_group)


async def _viewer(update: Update, context: BotContext) -> tuple[bool, str | None] | None:
    """(in_group, viewer org) when this chat may see the picture; None after refusing."""
    services = context.services
    chat = update.effective_chat
    if chat.type == ChatType.PRIVATE:
        actor = context.actor
        if actor is None or not actor.is_coordinator:
            text = services.render("lagesbild", "not_allowed")
            if update.callback_query is not None:
                await answer(update, text, alert=True)
            else:
                await send(update, text)
            return None
        return False, actor.org_key
    async with services.db.session() as session:
        group = await group_by_chat(session, chat.id)
    if group is None or not group.active or group.kind != "coordinator":
        # The gatekeeper lets only registered groups through; other kinds are not trusted.
        await answer(update)
        await send(update, services.render("lagesbild", "not_here"))
        return None
    return True, None


def _zoom_keyboard(services: Services):
    buttons = [(area.name, callback(PICTURE, area.key)) for area in services.config.areas]
    return keyboard(in_rows(buttons, 3))


async def _send_pages(update: Update, pages: list[str], markup=None) -> None:
    for number, page in enumerate(pages, start=1):
        await send(update, page, markup if number == len(pages) else None)


async def picture_command(update: Update, context: BotContext) -> None:
    services = context.services
    viewer = await _viewer(update, context)
    if viewer is None:
        return
    in_group, org_key = viewer
    typed = " ".join(context.args or []).strip()
    area_key = None
    if typed:
        area_key = find_area(services.config, typed)
        if area_key is None:
            await send(update, services.render("lagesbild", "unknown_area", typed=typed[:60],
                                               areas=services.config.areas))
            return
    pages = await build_picture_pages(services, org_key, in_group, area_key)
    # In private, a full picture ends with buttons to look at one area alone.
    zoom = not in_group and area_key is None and len(services.config.areas) > 1
    await _send_pages(update, pages, _zoom_keyboard(services) if zoom else None)


async def picture_button(update: Update, context: BotContext) -> None:
    services = context.services
    parts = update.callback_query.data.split(":")
    if update.effective_chat.type != ChatType.PRIVATE:
        await answer(update)
        return
    viewer = await _viewer(update, context)
    if viewer is None:
        return
    area = services.config.area(parts[1]) if len(parts) == 2 else None
    if area is None:
        await answer(update, services.render("lagesbild", "unknown_button"))
        return
    await answer(update)
    pages = await build_picture_pages(services, viewer[1], False, area.key)
    await _send_pages(update, pages)


def build_picture_handlers() -> list[BaseHandler]:
    return [
        CommandHandler("lagesbild", picture_command),
        CallbackQueryHandler(picture_button, pattern=rf"^{PICTURE}:"),
    ]
