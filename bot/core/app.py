"""The wiring: one function builds the Application that tests and ``run`` share."""

from __future__ import annotations

import logging

from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    ContextTypes,
    Defaults,
)
from telegram.request import BaseRequest

from bot.core.access import GATEKEEPER_GROUP, build_gatekeeper
from bot.core.context import BotContext
from bot.core.errors import on_error
from bot.core.fallbacks import build_fallback_handlers
from bot.core.rate_limit import RetryingRateLimiter
from bot.core.services import Services
from bot.core.updates import ChatSerialProcessor
from bot.dialogs.runtime import DialogEngine
from bot.features.agenda import agenda_dialog
from bot.features.audit import log_dialog
from bot.features.checklist import dialog as checklist_dialog
from bot.features.export import export_dialog
from bot.features.lagesbild.picture import build_picture_handlers, picture_button
from bot.features.levels import alert_buttons, niva
from bot.features.members import admin, invite, leave
from bot.features.members.commands import build_member_handlers
from bot.features.members.groups import build_group_handlers
from bot.features.members.onboarding import build_onboarding_handlers
from bot.features.planning import events, feedback, followup, insatser
from bot.features.planning.followup import schedule_followups
from bot.features.reports import calm, my_reports, report_dialog
from bot.outbound.purge import schedule_purge
from bot.outbound.schedule import schedule_jobs

log = logging.getLogger(__name__)

# Buttons on posts that are not dialogs (same grammar, same strict parsing): prefix → handler.
POST_ACTIONS = {
    "lb": picture_button,
    "al": alert_buttons.on_alert_press,
}
# Every conversation the bot holds, run by the one dialog engine (bot/dialogs).
DIALOG_SPECS = [
    report_dialog.DIALOG,
    calm.DIALOG,
    my_reports.DIALOG,
    invite.DIALOG,
    export_dialog.DIALOG,
    checklist_dialog.DIALOG,
    events.LIST_DIALOG,
    events.DIALOG,
    insatser.LIST_DIALOG,
    insatser.DIALOG,
    followup.DIALOG,
    niva.DIALOG,
    agenda_dialog.DIALOG,
    admin.DIALOG,
    leave.DIALOG,
    log_dialog.DIALOG,
]

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
        .updater(None)  # bot.core.updates.DurablePoller fetches updates instead
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(ChatSerialProcessor(services.inbox, services.clock))
        .rate_limiter(rate_limiter or RetryingRateLimiter())
        .defaults(Defaults(parse_mode=ParseMode.HTML))
    )
    if base_url:
        builder = builder.base_url(base_url)
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    application.bot_data["services"] = services
    engine = DialogEngine(DIALOG_SPECS, actions=POST_ACTIONS)
    application.bot_data["dialogs"] = engine
    application.add_handler(build_gatekeeper(), group=GATEKEEPER_GROUP)
    application.add_handlers(build_group_handlers())
    application.add_handlers(build_onboarding_handlers())
    application.add_handlers(invite.build_invite_handlers())
    application.add_handlers(admin.build_members_handlers())
    application.add_handlers(leave.build_leave_handlers())
    application.add_handlers(log_dialog.build_log_handlers())
    # Before the report dialog, whose text handler takes any typed text: a reply to a
    # /niva or /agenda prompt, or text for an open /handelse or /insats dialog, is not a report.
    application.add_handlers(niva.build_niva_handlers())
    application.add_handlers(agenda_dialog.build_agenda_handlers())
    application.add_handlers(events.build_event_handlers())
    application.add_handlers(insatser.build_insats_handlers())
    application.add_handlers(feedback.build_feedback_handlers())
    application.add_handlers(report_dialog.build_report_handlers())
    application.add_handlers(calm.build_calm_handlers())
    application.add_handlers(my_reports.build_my_reports_handlers())
    application.add_handlers(build_member_handlers())
    application.add_handlers(build_picture_handlers())
    application.add_handlers(checklist_dialog.build_checklist_handlers())
    application.add_handlers(export_dialog.build_export_handlers())
    application.add_handlers(engine.handlers())
    application.add_handlers(build_fallback_handlers())  # last: real handlers win
    application.add_error_handler(on_error)
    schedule_jobs(application)
    schedule_purge(application)
    schedule_followups(application)
    return application
