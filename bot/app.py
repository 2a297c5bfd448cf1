"""The wiring: one function builds the Application that tests and ``run`` share."""

from __future__ import annotations

import logging

from telegram import (
    Update,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.access import GATEKEEPER_GROUP, build_gatekeeper
from bot.agenda import build_agenda_handlers
from bot.checklist_dialog import build_checklist_handlers
from bot.context import BotContext
from bot.errors import on_error
from bot.export import build_export_handlers
from bot.groups import build_group_handlers
from bot.levels import build_level_handlers
from bot.member_commands import build_member_handlers
from bot.my_reports import build_my_reports_handlers
from bot.onboarding import build_onboarding_handlers
from bot.picture import build_picture_handlers
from bot.planning import build_planning_handlers, schedule_followups
from bot.rate_limit import RetryingRateLimiter
from bot.report_dialog import build_report_handlers
from bot.schedule import schedule_jobs
from bot.services import Services
from bot.telegram_io import answer, send
from bot.updates import ChatSerialProcessor

log = logging.getLogger(__name__)

async def unknown_button(update: Update, context: BotContext) -> None:
    """Any button no handler claims (old bot version, forged data) still stops spinning."""
    await answer(update, context.services.render("report", "ended"))


async def unknown_command(update: Update, context: BotContext) -> None:
    await send(update, context.services.render("onboarding", "unknown_command"))


def build_application(
    services: Services,
    token: str,
    *,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter | None = None,
) -> Application:
    builder = (
        ApplicationBuilder()
        .token(token)
        .updater(None)  # bot.updates.DurablePoller fetches updates instead
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(ChatSerialProcessor(services.inbox, services.clock))
        .rate_limiter(rate_limiter or RetryingRateLimiter())
    )
    if base_url:
        builder = builder.base_url(base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    application.bot_data["services"] = services
    application.add_handler(build_gatekeeper(), group=GATEKEEPER_GROUP)
    application.add_handlers(build_group_handlers())
    application.add_handlers(build_onboarding_handlers())
    # Before the report dialog, whose text handler takes any typed text: a reply to a
    # /niva or /agenda prompt, or text for an open /handelse or /insats dialog, is not a report.
    application.add_handlers(build_level_handlers())
    application.add_handlers(build_agenda_handlers())
    application.add_handlers(build_planning_handlers())
    application.add_handlers(build_report_handlers())
    application.add_handlers(build_my_reports_handlers())
    application.add_handlers(build_member_handlers())
    application.add_handlers(build_picture_handlers())
    application.add_handlers(build_checklist_handlers())
    application.add_handlers(build_export_handlers())
    application.add_handler(CallbackQueryHandler(unknown_button))
    application.add_handler(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE,
                                           unknown_command))
    application.add_error_handler(on_error)
    schedule_jobs(application)
    schedule_followups(application)
    return application
