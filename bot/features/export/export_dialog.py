"""``/export``: the reports of a period as CSV, XLSX and GeoJSON files, for coordinators.

Private chat only. The coordinator picks a period with a button (a one-step dialog on
the engine) or types two dates after the command. The answer is "Jag tar fram
exporten …" at once; reading the reports the coordinator may see (est.visibility:
förmedlade plus the own organisation's egna), building the three files off the event
loop and sending them as documents happens afterwards, outside any database
transaction, and ends by turning that message into a summary. An empty period gets a
message instead of empty files.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, InputFile, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import BaseHandler, CommandHandler

from bot.core.context import Actor, BotContext
from bot.core.errors import describe_error
from bot.core.services import Services
from bot.core.telegram_io import send
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from est import export as ex
from storage import audit
from storage.export import export_records

log = logging.getLogger(__name__)

KIND = "export"
PERIOD = "period"
PRESET = "p"
TEMPLATE = "export"


def _choose(turn: Turn) -> Screen:
    buttons = [Button(label, PRESET, key) for key, label in ex.PRESETS.items()]
    org_name = turn.services.config.organisation_name(turn.actor.org_key)
    return Screen(turn.render(TEMPLATE, "choose", org_name=org_name),
                  [buttons[i:i + 2] for i in range(0, len(buttons), 2)])


async def _chosen(turn: Turn, action: str, arg: str) -> Next:
    if action != PRESET or arg not in ex.PRESETS:
        raise Invalid(turn.render(TEMPLATE, "unknown_button"))
    # The period is taken at the press, in the deployment's local calendar.
    period = ex.preset_period(arg, turn.services.local_now().date())
    turn.data.update(start=period.start.isoformat(), end=period.end.isoformat())
    services, bot, actor = turn.services, turn.bot, turn.actor
    chat_id, message_id = turn.row.chat_id, turn.row.message_id
    # Slow work, after the commit and after the answer: this message reports progress.
    turn.after.append(lambda: deliver(services, bot, actor, chat_id, message_id, period))
    return Finish(turn.render(TEMPLATE, "working", period=period.label()))


DIALOG = DialogSpec(
    kind=KIND,
    first_step=PERIOD,
    min_role="coordinator",
    cancelled=lambda turn: turn.render(TEMPLATE, "cancelled"),
    ended=(TEMPLATE, "unknown_button"),
    steps={PERIOD: Step(_choose, press=_chosen)},
)


async def deliver(services: Services, bot: Bot, actor: Actor, chat_id: int,
                  progress_id: int, period: ex.Period) -> None:
    """Build the period's files and send them; the progress message becomes the summary."""
    config = services.config

    async def progress(text: str) -> None:
        await bot.edit_message_text(text, chat_id=chat_id, message_id=progress_id,
                                    parse_mode=ParseMode.HTML)

    try:
        since, until = period.bounds(config.tz)
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
                                           org_name=config.organisation_name(actor.org_key)))
            return
        for fmt in ex.FORMATS:
            await bot.send_document(
                chat_id, InputFile(result.files[fmt], filename=period.filename(fmt),
                                   attach=True),
                caption=services.render(TEMPLATE, "caption", fmt=fmt, e=result),
                parse_mode=ParseMode.HTML, disable_content_type_detection=True,
            )
        async with services.db.session() as session:
            await audit.record(session, "export", now=services.now(),
                               actor_member_id=actor.member_id, object_kind="reports",
                               details={"period": period.label(), "formats": list(ex.FORMATS),
                                        "reports": result.rows, "view": actor.org_key})
            await session.commit()
        await progress(services.render(TEMPLATE, "done", e=result))
    except Exception as error:
        # Never the exception's message: it may quote a report's free text.
        log.error("export %s for member %s failed: %s", period.label(), actor.member_id,
                  describe_error(error))
        await progress(services.render(TEMPLATE, "failed"))


async def export_command(update: Update, context: BotContext) -> None:
    """``/export`` shows the period buttons; ``/export <från> <till>`` exports at once."""
    services, actor = context.services, context.actor
    if update.effective_chat.type != ChatType.PRIVATE:
        await send(update, services.render(TEMPLATE, "not_private"))
        return
    if actor is None or not actor.is_coordinator:
        await send(update, services.render(TEMPLATE, "not_allowed"))
        return
    typed = " ".join(context.args or []).strip()
    if not typed:
        await context.dialogs.start(update, context, KIND)
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
    services.spawn(deliver(services, context.bot, actor, update.effective_chat.id,
                           progress.message_id, period),
                   f"export-{actor.member_id}-{update.update_id}")


def build_export_handlers() -> list[BaseHandler]:
    return [CommandHandler("export", export_command)]
