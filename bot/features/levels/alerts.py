"""The analysis step in the chat: suggestion alerts, urgent alerts and level announcements.

After every stored report (``after_report``) the area is evaluated with
``est.analysis.suggest_level``. Whether and where to alert is decided by
est.alert_policy (above the current level, one open suggestion per area, the cooldown
``analysis.alert_cooldown_hours``, urgent categories whatever the level, egen urgent
reports in private to their organisation's coordinators); this module fetches the
facts, stores the alerts and posts them. The coordinator groups get an alert with
"Höj till …" and "Behåll"; a burst of reports edits that alert instead of posting anew.

What reaches a group is an aggregate of förmedlade reports only: the coordinators in a
group come from several organisations, and an egen report must not show there, not
even as a count in a score (est.visibility), nor as an edit of the group's alert at the
moment it came in (est.alert_policy). An urgent egen report goes privately to
the coordinators of its own organisation instead.

Every new message (an alert, an urgent alert, a level change, a field notice) goes
through the outbox (bot.outbound.delivery.send_once) keyed by the Alert's or AreaLevel's id, so
each group and member gets it once, also when it is pushed again after a restart; 403,
supergroup upgrades and retries are handled there. Updating a posted alert stays a
direct edit of that message.

Callback data: ``al:<alert id>:r`` (raise to the alert's level) and ``al:<alert id>:k``
(keep). The level raised to is read from the stored alert, never from the button.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlmodel import col, select
from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.core.context import BotContext
from bot.core.services import Services
from bot.core.telegram_io import answer, callback, keyboard
from bot.outbound.delivery import Sent, send_once
from est import alert_policy as policy
from est import posts as est_posts
from est import recipients as est_recipients
from est import report_draft as flow
from est.analysis import ReportFact, rules_for, suggest_level
from est.levels import Level, check_transition
from est.visibility import free_text_allowed, shown_place, visible_in_group
from storage import alerts as store
from storage import outbox
from storage.facts import field_members_for_area, report_facts
from storage.levels import current_level, latest_checklist_strength, record_level
from storage.models import Alert, AlertMessage, AreaLevel, Member, Report
from storage.reports import categories_of

log = logging.getLogger(__name__)

PREFIX = "al"
RAISE, KEEP = "r", "k"
KEEP_LABEL = "Behåll"
# Field members hear about these levels; grönt is the normal state and needs no push.
FIELD_LEVELS = (Level.GUL, Level.ROD, Level.ORANGE)
URGENT_MEMORY = policy.URGENT_MEMORY
# Outbox kinds (est.posts.PUSHES); the key is the Alert's or AreaLevel's id.
ALERT_KIND, URGENT_KIND = est_posts.ALERT.kind, est_posts.URGENT.kind
LEVEL_KIND, LEVEL_FIELD_KIND = est_posts.LEVEL.kind, est_posts.LEVEL_FIELD.kind

# One lock per area and event loop: evaluation, decisions and /niva changes of one area
# never interleave (there is one bot process; two pollers on one token get 409).
_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def area_lock(area_key: str) -> asyncio.Lock:
    locks = _locks.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(area_key, asyncio.Lock())


def raise_label(level: Level) -> str:
    return f"Höj till {level.value}"


# ---------------------------------------------------------------- names

def level_of(row: AreaLevel | None) -> Level:
    """An area without any recorded change has grönt läge."""
    return Level(row.level) if row is not None else Level.GRON


async def who(services: Services, session, member_id: int | None) -> str:
    """A decider as coordinators know them: first name and organisation."""
    member = await session.get(Member, member_id) if member_id is not None else None
    if member is None:
        return "okänd"
    org = services.config.organisation(member.org_key)
    return f"{member.first_name} ({org.name if org else member.org_key})"


def area_name(services: Services, area_key: str) -> str:
    area = services.config.area(area_key)
    return area.name if area else area_key


# ---------------------------------------------------------------- delivery

async def post_to_groups(services: Services, bot: Bot, text: str,
                         markup: InlineKeyboardMarkup | None = None, *, kind: str, key: str,
                         skip_chat_ids: Iterable[int] = ()) -> list[Sent]:
    """Post to every active coordinator group, once per (kind, key) and group.

    Goes through the outbox (bot.outbound.delivery.send_once): calling again with the same key
    (a restart, a repeated push) reaches only the groups that did not get it yet.
    Returns where each new post landed; a group upgraded to a supergroup is reported
    under its new id.
    """
    skip = set(skip_chat_ids)
    async with services.db.session() as session:
        groups = est_recipients.coordinator_groups(await outbox.chats(session))
    chat_ids = [r.chat_id for r in groups if r.chat_id not in skip]
    posted = []
    for chat_id in chat_ids:
        sent = await send_once(services, bot, kind=kind, key=key, chat_id=chat_id, text=text,
                               markup=markup)
        if sent is not None:
            posted.append(sent)
    return posted


async def edit_posts(bot: Bot, posts: Iterable[AlertMessage], text: str,
                     markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit an alert wherever it was posted; a vanished or unchanged message is fine."""
    for post in posts:
        try:
            await bot.edit_message_text(text, chat_id=post.chat_id, message_id=post.message_id,
                                        parse_mode=ParseMode.HTML, reply_markup=markup,
                                        disable_web_page_preview=True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.info("alert message %s in %s not edited: %s", post.message_id,
                         post.chat_id, exc)
        except TelegramError as exc:
            log.warning("alert message %s in %s not edited: %s", post.message_id,
                        post.chat_id, exc)


async def notify_members(services: Services, bot: Bot, telegram_user_ids: Iterable[int],
                         text: str, *, kind: str, key: str) -> int:
    """Private messages, once per (kind, key) and member, through the outbox.

    A member who blocked the bot (403) is marked inactive and the admins are told, by
    bot.outbound.delivery. Returns how many were sent now.
    """
    sent = 0
    for user_id in telegram_user_ids:
        if await send_once(services, bot, kind=kind, key=key, chat_id=user_id,
                           text=text) is not None:
            sent += 1
    return sent


# ---------------------------------------------------------------- level announcements

def level_text(services: Services, *, area_key: str, old: Level, new: Level, reason: str,
               decided_by: str, at: datetime) -> str:
    """The announcement of a level change, as the coordinator groups get it."""
    return services.render("levels", "changed", area_name=area_name(services, area_key),
                           old=old, new=new, reason=reason, who=decided_by, at=at)


async def announce_level(services: Services, bot: Bot, *, level_id: int, area_key: str,
                         old: Level, new: Level, reason: str, decided_by: str, at: datetime,
                         skip_chat_ids: Iterable[int] = ()) -> None:
    """Push a level change to every coordinator group, and to the field when it matters.

    Field members (active, unpaused reporters whose organisation works in the area) get
    a short notice without reason or details for gult, rött and orange. Both go through
    the outbox keyed by the AreaLevel row (``level_id``): announcing the same change
    again, say after a restart, reaches only whoever did not get it yet.
    """
    key = str(level_id)
    text = level_text(services, area_key=area_key, old=old, new=new, reason=reason,
                      decided_by=decided_by, at=at)
    await post_to_groups(services, bot, text, kind=LEVEL_KIND, key=key,
                         skip_chat_ids=skip_chat_ids)
    if new in FIELD_LEVELS:
        async with services.db.session() as session:
            members = await field_members_for_area(session, services.config, area_key)
            user_ids = [m.telegram_user_id for m in members]
        notice = services.render("levels", "field_notice",
                                 area_name=area_name(services, area_key), level=new, at=at)
        await notify_members(services, bot, user_ids, notice, kind=LEVEL_FIELD_KIND, key=key)


async def close_superseded(services: Services, bot: Bot, area_key: str, level: Level, *,
                           member_id: int | None) -> None:
    """After a level change by /niva: open suggestions it meets or exceeds are closed."""
    async with area_lock(area_key), services.db.session() as session:
        closed = []
        for alert in await store.open_suggestions(session, area_key):
            if Level(alert.level).rank <= level.rank:
                await store.decide(session, alert, status=store.CLOSED, member_id=member_id,
                                   now=services.now())
                session.add(alert)
                closed.append(alert)
        await session.commit()
        for alert in closed:
            text, markup = await render_alert(services, session, alert, current=level)
            await edit_posts(bot, await store.messages_of(session, alert.id), text, markup)


# ---------------------------------------------------------------- rendering alerts

async def render_alert(services: Services, session, alert: Alert, *,
                       current: Level) -> tuple[str, InlineKeyboardMarkup | None]:
    name = area_name(services, alert.area_key)
    level = Level(alert.level)
    if alert.status == store.OPEN:
        text = services.render("levels", "suggestion_open", area_name=name, level=level,
                               current=current, reasons=alert.reasons,
                               updated_at=alert.updated_at)
        markup = keyboard([[(raise_label(level), callback(PREFIX, alert.id, RAISE)),
                            (KEEP_LABEL, callback(PREFIX, alert.id, KEEP))]])
        return text, markup
    decider = (await who(services, session, alert.decided_by_member_id)
               if alert.decided_by_member_id is not None else None)
    text = services.render("levels", "suggestion_decided", area_name=name, level=level,
                           status=alert.status, reasons=alert.reasons, who=decider,
                           at=alert.decided_at, current=current)
    return text, None


# ---------------------------------------------------------------- after a report

async def after_report(services: Services, bot: Bot, report_id: int) -> None:
    """Called in the background once a report is committed: urgent alert, then evaluation."""
    async with services.db.session() as session:
        report = await session.get(Report, report_id)
        if report is None or report.withdrawn_at is not None:
            return
        category_keys = (await categories_of(session, [report_id]))[report_id]
    await _alert_if_urgent(services, bot, report, category_keys)
    await evaluate_area(services, bot, report.area_key, report=report)


async def evaluate_area(services: Services, bot: Bot, area_key: str, *,
                        report: Report | None = None) -> None:
    """Suggest a level for the area; alert or update the open alert when it is above the
    current level. Also called after a completed checklist, without a triggering report.

    Triggered by ``report``: only when the groups may see it (est.alert_policy
    .report_moves_group_alert); an egen report neither edits nor re-sends their alert.
    """
    config = services.config
    if config.area(area_key) is None:
        return
    async with area_lock(area_key):
        now = services.now()
        rules = rules_for(config)
        async with services.db.session() as session:
            if report is not None:
                open_alert = await store.open_suggestion(session, area_key)
                counted = open_alert.report_ids if open_alert is not None else ()
                if not policy.report_moves_group_alert(report.sharing, report.id, counted):
                    return
            rows = await report_facts(session, since=now - timedelta(days=rules.window_days),
                                      until=now + timedelta(seconds=1), area_key=area_key)
            facts = [fact for fact, sharing in rows if visible_in_group(sharing)]
            strength = await latest_checklist_strength(session, area_key)
            suggestion = suggest_level(area_key, facts, config, now, strength, rules)
            current = level_of(await current_level(session, area_key))
            if not policy.above_current(suggestion.level, current):
                return
            report_ids = [fact.report_id for fact in facts]
            alert = await store.open_suggestion(session, area_key, lock=True)
            last_decided = (None if alert is not None else
                            await _last_decided_at(session, area_key, suggestion.level.value))
            action = policy.suggestion_action(
                suggestion.level, current, has_open=alert is not None,
                last_decided_at=last_decided, now=now,
                cooldown_hours=config.analysis.alert_cooldown_hours)
            if action == policy.NO_ALERT:
                return
            if action == policy.UPDATE_OPEN:
                changed = store.update_suggestion(
                    alert, level=suggestion.level.value, score=suggestion.score,
                    reasons=suggestion.reasons_sv, report_ids=report_ids, now=now)
                session.add(alert)
                await session.commit()
                posts = await store.messages_of(session, alert.id)
                text, markup = await render_alert(services, session, alert, current=current)
                if changed:
                    await edit_posts(bot, posts, text, markup)
                # A group registered after the alert was first posted gets it too.
                await _post_alert(services, bot, session, alert, text, markup,
                                  skip_chat_ids=[p.chat_id for p in posts])
                return
            alert = await store.create_alert(
                session, area_key=area_key, kind=store.SUGGESTION, now=now,
                level=suggestion.level.value, score=suggestion.score,
                reasons=suggestion.reasons_sv, report_ids=report_ids)
            await session.commit()
            text, markup = await render_alert(services, session, alert, current=current)
            await _post_alert(services, bot, session, alert, text, markup)


async def _last_decided_at(session, area_key: str, level: str) -> datetime | None:
    """When a suggestion of this level for the area was last raised or kept (the cooldown)."""
    query = (select(Alert.decided_at)
             .where(Alert.area_key == area_key, Alert.kind == store.SUGGESTION,
                    Alert.level == level, col(Alert.status).in_(store.DECIDED),
                    col(Alert.decided_at).is_not(None))
             .order_by(col(Alert.decided_at).desc()).limit(1))
    return (await session.exec(query)).first()


async def _post_alert(services: Services, bot: Bot, session, alert: Alert, text: str,
                      markup: InlineKeyboardMarkup | None,
                      skip_chat_ids: Iterable[int] = ()) -> None:
    """Post an alert to the groups that do not have it yet; remember where it landed."""
    kind = URGENT_KIND if alert.kind == store.URGENT else ALERT_KIND
    posted = await post_to_groups(services, bot, text, markup, kind=kind, key=str(alert.id),
                                  skip_chat_ids=skip_chat_ids)
    for sent in posted:  # under the id it landed at: a supergroup's, after an upgrade
        await store.add_message(session, alert.id, sent.chat_id, sent.message_id)
    await session.commit()


def _fact_of(report: Report, category_keys: list[str]) -> ReportFact:
    return ReportFact(
        report_id=report.id, area_key=report.area_key, place_key=report.place_key,
        place_name=report.place_name, org_key=report.org_key,
        category_keys=tuple(category_keys), people=report.people, severity=report.severity,
        occurred_at=report.occurred_at, withdrawn=report.withdrawn_at is not None)


async def _alert_if_urgent(services: Services, bot: Bot, report: Report,
                           category_keys: list[str]) -> None:
    config = services.config
    fact = _fact_of(report, category_keys)
    labels = policy.urgent_labels(fact, config)
    if not labels:
        return
    now = services.now()
    async with area_lock(report.area_key), services.db.session() as session:
        done = await store.alerted_urgent_report_ids(session, report.area_key,
                                                     now - policy.URGENT_MEMORY)
        if not policy.urgent_due(fact, config, done):
            return  # an edit of a report that already alerted
        alert = await store.create_alert(session, area_key=report.area_key, kind=store.URGENT,
                                         now=now, reasons=labels,
                                         report_ids=[report.id], status=store.INFO)
        await session.commit()
        route = policy.urgent_route(report.sharing, report.org_key,
                                    await outbox.people(session))
        if route.to_groups:
            in_groups = free_text_allowed(True, config)
            context = _urgent_context(services, report, category_keys, free_text=in_groups)
            text = services.render("levels", "urgent", **context, own_org=False,
                                   text=report.text if in_groups else None)
            await _post_alert(services, bot, session, alert, text, None)
            return
    # An egen report stays within its organisation: its coordinators, in private.
    context = _urgent_context(services, report, category_keys,
                              free_text=free_text_allowed(False, config))
    text = services.render("levels", "urgent", **context, own_org=True, text=report.text)
    await notify_members(services, bot, route.private_chat_ids, text, kind=URGENT_KIND,
                         key=str(alert.id))


def _urgent_context(services: Services, report: Report, category_keys: list[str], *,
                    free_text: bool) -> dict:
    """What an urgent alert shows; a typed place name only where ``free_text`` may be."""
    config = services.config
    categories = [c for key in category_keys if (c := config.category(key)) is not None]
    place = shown_place(config, report.area_key, report.place_key, report.place_name,
                        free_text=free_text)
    if place is None and report.lat is not None:
        place = f"delad position ({report.lat:.4f}, {report.lon:.4f})"
    return {
        "area_name": area_name(services, report.area_key),
        "place": place,
        "categories": [c.label for c in categories],
        "occurred_at": report.occurred_at,
        "people": flow.PEOPLE_CHOICES.get(report.people or ""),
        "severity": flow.SEVERITY_CHOICES.get(report.severity or 0),
        "reference": report.reference or "",
    }


# ---------------------------------------------------------------- the buttons

def _parse(data: str | None) -> tuple[int, str] | None:
    parts = (data or "").split(":")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1].isdigit() \
            or parts[2] not in (RAISE, KEEP):
        return None
    return int(parts[1]), parts[2]


async def on_alert_button(update: Update, context: BotContext) -> None:
    """A press on "Höj till …" or "Behåll": coordinators only, decided once."""
    services, actor = context.services, context.actor
    if actor is None or not actor.is_coordinator:
        await answer(update, services.render("levels", "only_coordinators_decide"), alert=True)
        return
    parsed = _parse(update.callback_query.data)
    if parsed is None:
        await answer(update, services.render("levels", "ended"))
        return
    alert_id, action = parsed
    async with services.db.session() as session:
        alert = await session.get(Alert, alert_id)
        if alert is None or alert.kind != store.SUGGESTION:
            await answer(update, services.render("levels", "ended"))
            return
        area_key = alert.area_key
    announcement = None
    async with area_lock(area_key), services.db.session() as session:
        alert = await store.lock_alert(session, alert_id)
        current = level_of(await current_level(session, area_key))
        if alert.status != store.OPEN:
            await session.commit()  # nothing changed; release the row
            await answer(update, services.render("levels", "already_decided"))
        else:
            now, level = services.now(), Level(alert.level)
            decider = await who(services, session, actor.member_id)
            if action == KEEP:
                await store.decide(session, alert, status=store.KEPT,
                                   member_id=actor.member_id, now=now)
            elif not check_transition(current, level).allowed:
                # The level already got there (or higher) another way: nothing to raise.
                await store.decide(session, alert, status=store.CLOSED,
                                   member_id=actor.member_id, now=now)
            else:
                reason = services.render("levels", "decision_reason", reasons=alert.reasons,
                                         who=decider)
                row = await record_level(session, area_key=area_key, level=level.value,
                                         reason=reason, member_id=actor.member_id, now=now,
                                         alert_id=alert.id)
                await store.decide(session, alert, status=store.RAISED,
                                   member_id=actor.member_id, now=now)
                announcement = dict(level_id=row.id, area_key=area_key, old=current, new=level,
                                    reason=reason, decided_by=decider, at=now)
                current = level
            session.add(alert)
            await session.commit()
            await answer(update)
        text, markup = await render_alert(services, session, alert, current=current)
        await edit_posts(context.bot, await store.messages_of(session, alert_id), text, markup)
    if announcement is not None:
        services.spawn(announce_level(services, context.bot, **announcement),
                       f"level-{area_key}-alert-{alert_id}")
