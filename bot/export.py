"""``/export``: the reports of a period as CSV, XLSX and GeoJSON files, for coordinators.

Private chat only. The coordinator picks a period with a button (or types two dates
after the command); the bot answers "Jag tar fram exporten …", reads the reports the
coordinator may see (est.visibility: förmedlade plus the own organisation's egna),
builds the three files off the event loop and sends them as documents. An empty
period gets a message instead of empty files.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import InputFile, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.telegram_io import answer, callback, in_rows, keyboard, send, show
from est import export as ex
from messages import labels
from storage.export import export_records

log = logging.getLogger(__name__)

PREFIX = "ex"
TEMPLATE = "export"
CANCEL = "x"


async def _allowed(update: Update, context: BotContext) -> bool:
    """Coordinators and admins, in their private chat; everyone else gets a Swedish no."""
    services = context.services
    if update.effective_chat.type != ChatType.PRIVATE:
        text = services.render(TEMPLATE, "not_private")
    elif context.actor is None or not context.actor.is_coordinator:
        text = services.render(TEMPLATE, "not_allowed")
    else:
        return True
    if update.callback_query is not None:
        await answer(update, text, alert=True)
    else:
        await send(update, text)
    return False


def _org_name(context: BotContext) -> str:
    org = context.services.config.organisation(context.member.org_key)
    return org.name if org else context.member.org_key


async def export_command(update: Update, context: BotContext) -> None:
    if not await _allowed(update, context):
        return
    services = context.services
    typed = " ".join(context.args or []).strip()
    if not typed:
        buttons = [(label, callback(PREFIX, key)) for key, label in ex.PRESETS.items()]
        await send(update, services.render(TEMPLATE, "choose", org_name=_org_name(context)),
                   keyboard([*in_rows(buttons, 2), [(labels.CANCEL, callback(PREFIX, CANCEL))]]))
        return
    try:
        period = ex.parse_period(typed)
    except ex.PeriodError as error:
        await send(update, services.render(TEMPLATE, "bad_period", problem=str(error)))
        return
    if period.days > ex.MAX_CHAT_DAYS:
        await send(update, services.render(TEMPLATE, "too_long", days=period.days,
                                           max_days=ex.MAX_CHAT_DAYS))
        return
    progress = await send(update, services.render(TEMPLATE, "working", period=period.label()))
    await _export(update, context, period, progress.message_id)


async def export_button(update: Update, context: BotContext) -> None:
    if not await _allowed(update, context):
        return
    services = context.services
    parts = update.callback_query.data.split(":")
    key = parts[1] if len(parts) == 2 else ""
    if key == CANCEL:
        await answer(update)
        await show(update, services.render(TEMPLATE, "cancelled"))
        return
    if key not in ex.PRESETS:
        await answer(update, services.render(TEMPLATE, "unknown_button"))
        return
    # The period is taken at the press, in the deployment's local calendar.
    period = ex.preset_period(key, services.local_now().date())
    await answer(update)
    progress = await show(update, services.render(TEMPLATE, "working", period=period.label()))
    message_id = (progress.message_id if not isinstance(progress, bool)
                  else update.callback_query.message.message_id)
    await _export(update, context, period, message_id)


async def _export(update: Update, context: BotContext, period: ex.Period,
                  progress_id: int) -> None:
    services, actor = context.services, context.member
    config, chat_id = services.config, update.effective_chat.id

    async def progress(text: str) -> None:
        await context.bot.edit_message_text(text, chat_id=chat_id, message_id=progress_id,
                                            parse_mode=ParseMode.HTML)

    since, until = period.bounds(config.tz)
    try:
        async with services.db.session() as session:
            records = await export_records(session, since=since, until=until,
                                           viewer_org_key=actor.org_key)
        # openpyxl and the serialisers are CPU work: keep the loop free for other chats.
        result = await asyncio.to_thread(ex.build_export, records, config, actor.org_key,
                                         period)
        log.info("export %s for member %s (%s): %d reports", period.label(), actor.member_id,
                 actor.org_key, result.rows)
        if result.rows == 0:
            await progress(services.render(TEMPLATE, "empty", period=period.label(),
                                           org_name=_org_name(context)))
            return
        for fmt in ex.FORMATS:
            await context.bot.send_document(
                chat_id, InputFile(result.files[fmt], filename=period.filename(fmt),
                                   attach=True),
                caption=services.render(TEMPLATE, "caption", fmt=fmt, e=result),
                parse_mode=ParseMode.HTML, disable_content_type_detection=True,
            )
        await progress(services.render(TEMPLATE, "done", e=result))
    except Exception:
        log.exception("export %s for member %s failed", period.label(), actor.member_id)
        await progress(services.render(TEMPLATE, "failed"))


def build_export_handlers() -> list[BaseHandler]:
    return [
        CommandHandler("export", export_command),
        CallbackQueryHandler(export_button, pattern=rf"^{PREFIX}:"),
    ]
