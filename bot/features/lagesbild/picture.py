"""``/lagesbild [område]``: the samlad lägesbild in chat, split into Telegram-sized pages.

Coordinators and admins get it in a private chat (förmedlade reports plus their own
organisation's egna); a registered coordinator group gets it for anyone who asks there
(förmedlade only, free text only if the config allows it). Reporters are refused.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import BaseHandler, CommandHandler

from bot.core.context import BotContext
from bot.core.services import Services
from bot.core.telegram_io import answer, in_rows, keyboard, send
from bot.dialogs import callbacks
from bot.dialogs.callbacks import Press
from bot.dialogs.paging import pack_pages
from est.lagesbild import UPCOMING, Picture, compose_picture_from_tallies, find_area
from est.visibility import free_text_allowed
from storage.facts import picture_tallies
from storage.members import group_by_chat
from storage.picture import level_infos, open_insatser, upcoming_events

log = logging.getLogger(__name__)

PICTURE = "lb"  # the zoom buttons under a full picture: lb:0:a:<area key>


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
        # Counted in SQL over what this viewer may see; only the shown reports are read.
        tallies, texts = await picture_tallies(
            session, config, now=now, viewer_org_key=viewer_org_key, in_group=in_group,
            area_key=area_key, with_texts=free_text_allowed(in_group, config))
        levels = await level_infos(session)
        events = await upcoming_events(session, since=now, until=now + UPCOMING,
                                       area_key=area_key)
        insatser = await open_insatser(session, now=now, area_key=area_key)
    picture = compose_picture_from_tallies(
        config, tallies, levels, events, insatser, now, area_key,
        viewer_org_key=viewer_org_key, in_group=in_group, free_texts=texts,
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
    buttons = [(area.name, callbacks.build(PICTURE, 0, "a", area.key))
               for area in services.config.areas]
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


async def picture_button(update: Update, context: BotContext, press: Press) -> None:
    """A zoom button (an engine action: the press is already strictly parsed)."""
    services = context.services
    if update.effective_chat.type != ChatType.PRIVATE:
        await answer(update)
        return
    viewer = await _viewer(update, context)
    if viewer is None:
        return
    area = services.config.area(press.arg) if press.action == "a" else None
    if area is None:
        await answer(update, services.render("lagesbild", "unknown_button"))
        return
    await answer(update)
    pages = await build_picture_pages(services, viewer[1], False, area.key)
    await _send_pages(update, pages)


def build_picture_handlers() -> list[BaseHandler]:
    return [CommandHandler("lagesbild", picture_command)]
