"""Uppföljning: once an insats is over, its coordinator is asked how it went, once.

``ask_for_followups`` (every ten minutes, ``schedule_followups``) finds the insatser
that est.planning.followup_due says are due, claims each (followup_asked_at,
committed together with the question's dialog row, so two processes never both ask),
and sends the question through the outbox (bot.outbound.delivery.send_once, keyed by the
insats): a dialog the bot opens on its own (kind ``followup``), bound to the message
the outbox delivered. Its steps: the effect (Bättre / Oförändrat / Sämre, stored at
once), then an optional comment, typed or skipped.

A paused or inactive coordinator is asked when they are back. A 403 marks them
inactive (in bot.outbound.delivery) and the question is not asked again; a failure the outbox
retries releases the claim, so the next run asks again.
"""

from __future__ import annotations

import html
import logging

from telegram.ext import Application

from bot.core.context import Actor, BotContext
from bot.core.services import Services
from bot.dialogs import Button, DialogSpec, Finish, Invalid, Next, Screen, Step, Turn
from bot.dialogs.runtime import DialogEngine
from bot.features.planning import common
from bot.features.planning.common import TEMPLATE
from bot.outbound.delivery import send_once
from est import planning as plan
from est.planning import EFFECTS, FOLLOWUP, FU_ASK, FU_COMMENT, InvalidChoice, PlanDraft
from messages import labels
from storage import dialogs as dialog_store
from storage import outbox
from storage import planning as store
from storage.models import Insats, Member

log = logging.getLogger(__name__)

OUTBOX_KIND = "followup"  # the outbox key is the insats's id
FOLLOWUP_INTERVAL_SECONDS = 600


# ---------------------------------------------------------------- the dialog

def _insats_id(turn: Turn) -> int:
    return common.draft_of(turn).insats_id or 0


async def _ask(turn: Turn) -> Screen:
    insats = await turn.session.get(Insats, _insats_id(turn))
    if insats is None:
        return Screen(turn.render(TEMPLATE, "unknown_insats"), cancel=False)
    rows = [[Button(label, "e", key) for key, label in EFFECTS.items()]]
    return Screen(turn.render(TEMPLATE, "followup_ask",
                              i=common.insats_view(turn.services, insats)), rows, cancel=False)


async def _answered(turn: Turn) -> Insats:
    """The insats, row-locked, with this member's answer being stored now."""
    insats = await store.lock_insats(turn.session, _insats_id(turn))
    if insats is None:
        raise Invalid(turn.render(TEMPLATE, "unknown_insats"))
    insats.followed_up_at, insats.followup_by_member_id = turn.now, turn.actor.member_id
    turn.session.add(insats)
    return insats


async def _on_effect(turn: Turn, action: str, arg: str) -> Next:
    if action != "e" or arg not in EFFECTS:
        raise Invalid(turn.render(*common.ENDED))
    insats = await _answered(turn)
    insats.followup_effect = arg
    draft = common.draft_of(turn)
    draft.effect = arg
    common.keep(turn, draft)
    return FU_COMMENT


def _comment_step(turn: Turn) -> Screen:
    text = turn.render(TEMPLATE, FU_COMMENT,
                       d=common.draft_view(turn.services, common.draft_of(turn)))
    return Screen(text, [[Button(labels.SKIP, "s")]], cancel=False, wants_text=True)


def _saved(turn: Turn, insats: Insats, notice: str | None = None) -> Finish:
    text = turn.render(TEMPLATE, "followup_saved", insats_id=insats.id,
                       effect=EFFECTS.get(insats.followup_effect or "", "–"),
                       comment=insats.followup_comment)
    if notice:
        text = f"<i>{html.escape(notice)}</i>\n\n{text}"
    return Finish(text)


async def _on_skip(turn: Turn, action: str, arg: str) -> Next:
    """"Hoppa över": the effect is kept, no comment."""
    if action != "s":
        raise Invalid(turn.render(*common.ENDED))
    insats = await store.lock_insats(turn.session, _insats_id(turn))
    if insats is None:
        raise Invalid(turn.render(TEMPLATE, "unknown_insats"))
    return _saved(turn, insats)


async def _on_comment(turn: Turn, text: str) -> Next:
    try:
        comment, notice = plan.followup_comment(text)
    except InvalidChoice as problem:
        raise common.refused(turn, problem) from problem
    # A phone number or an e-mail address leaves the chat; the masked text is kept.
    turn.delete_incoming = notice is not None
    insats = await _answered(turn)
    insats.followup_comment = comment
    return _saved(turn, insats, notice)


DIALOG = DialogSpec(
    kind=FOLLOWUP,
    first_step=FU_ASK,
    # The coordinator who registered the insats answers, whatever their role is now.
    min_role="reporter",
    replaces=(),  # one question per insats: several may be open at once
    cancelled=common.cancelled,
    ended=common.ENDED,
    when_done=common.already_saved,
    steps={
        FU_ASK: Step(_ask, press=_on_effect),
        FU_COMMENT: Step(_comment_step, press=_on_skip, text=_on_comment),
    },
)


# ---------------------------------------------------------------- asking

def _actor(services: Services, member: Member) -> Actor:
    org = services.config.organisation(member.org_key)
    return Actor.of(member, org.kind if org else "annan")


async def ask_for_followups(services: Services, bot, dialogs: DialogEngine) -> int:
    """Ask, once, for the uppföljning of every insats that is over. Returns how many asked."""
    now = services.now()
    async with services.db.session() as session:
        due = [i for i in await store.not_followed_up(session)
               if plan.followup_due(i.status, i.ends_at, i.followup_asked_at, now)]
    asked = 0
    for insats in due:
        async with services.db.session() as session:
            member = None
            if insats.created_by_member_id is not None:
                member = await session.get(Member, insats.created_by_member_id)
            if member is not None and (not member.active or member.paused):
                continue  # asked when they are back
            if not await store.claim_followup(session, insats.id, now):
                continue  # another process asks
            if member is None:
                await session.commit()
                continue
            row = await dialogs.open_for(services, member, FOLLOWUP, session=session,
                                         data=PlanDraft(kind=FOLLOWUP,
                                                        insats_id=insats.id).to_json())
            text, markup = await dialogs.screen_of(services, row, _actor(services, member),
                                                   session)
            dialog_id, chat_id = row.id, member.telegram_user_id
            await session.commit()
        sent = await send_once(services, bot, kind=OUTBOX_KIND, key=str(insats.id),
                               chat_id=chat_id, text=text, markup=markup)
        if sent is None:
            await _not_sent(services, insats.id, dialog_id, chat_id)
            continue
        await dialogs.bind(services, dialog_id, sent.message_id)
        asked += 1
    return asked


async def _not_sent(services: Services, insats_id: int, dialog_id: int, chat_id: int) -> None:
    """The question did not go out: its dialog ends; a retry by the outbox asks again."""
    async with services.db.session() as session:
        broadcast = await outbox.find(session, OUTBOX_KIND, str(insats_id))
        deliveries = await outbox.deliveries(session, broadcast.id) if broadcast else []
        delivery = next((d for d in deliveries if d.chat_id == chat_id), None)
        retry = delivery is not None and delivery.status in (outbox.PENDING, outbox.SENDING)
        row = await dialog_store.lock_dialog(session, dialog_id)
        dialog_store.record(row, step=row.step, data=row.data, update_id=None,
                            now=services.now(), status=dialog_store.CANCELLED)
        if retry:
            await store.release_followup(session, insats_id)
        await session.commit()
    log.warning("uppföljning of insats %s not sent%s", insats_id,
                "; asked again on the next run" if retry else "")


async def _followup_job(context: BotContext) -> None:
    asked = await ask_for_followups(context.services, context.bot, context.dialogs)
    if asked:
        log.info("asked for uppföljning of %s insatser", asked)


def schedule_followups(application: Application) -> None:
    """Check for ended insatser every ten minutes; call once from bot/core/app.py.

    The database decides what is due (followup_asked_at), so a run missed while the
    bot was down is made up by the first run after start.
    """
    application.job_queue.run_repeating(
        _followup_job, interval=FOLLOWUP_INTERVAL_SECONDS, first=60, name="uppfoljning",
        job_kwargs={"misfire_grace_time": 300, "coalesce": True, "max_instances": 1},
    )
