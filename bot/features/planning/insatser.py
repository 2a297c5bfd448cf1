"""``/insats``: planned and running insatser, their status, and ``/insats ny``.

Two dialogs: the list (kind ``insats_status``: paged, each insats on the page with the
status changes est.planning allows, "Ställ in" asked again; only for an insats the
coordinator's organisation is responsible for, or for an admin: everyone else sees it
without buttons, and a forged press is refused), and the registration
(kind ``insats``): area, place, what, organisation, period, "Spara". An insats at a
known place thanks the people who reported from there (bot.features.planning.feedback)
once it is committed.
"""

from __future__ import annotations

from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.telegram_io import in_rows
from bot.dialogs import Button, Finish, Invalid, Next, Screen, Step, Turn
from bot.dialogs.callbacks import row_id
from bot.dialogs.lists import list_page
from bot.features.planning import common
from bot.features.planning.common import TEMPLATE
from bot.features.planning.feedback import send_feedback
from est import planning as plan
from est.planning import (
    IN_AREA,
    IN_CONFIRM,
    IN_ORG,
    IN_PERIOD,
    IN_PERIOD_T,
    IN_PLACE,
    IN_PLACE_T,
    IN_WHAT,
    INSATS,
)
from messages import labels
from storage import planning as store
from storage.models import Insats

LIST_KIND, LIST, CONFIRM = "insats_status", "list", "confirm"
NEW_INSATS = "➕ Ny insats"
TYPE_PERIOD = "Skriv period"
STATUS_BUTTONS = {plan.RUNNING: "▶ Starta", plan.DONE: "✔ Klar", plan.CANCELLED: "✖ Ställ in"}
CONFIRM_CANCEL = "Ja, ställ in"


# ---------------------------------------------------------------- the list and its status

async def _list(turn: Turn) -> Screen:
    services = turn.services
    actor = turn.actor
    current = await store.current_insatser(turn.session, now=turn.now)
    items = [common.insats_view(services, i) for i in current]
    changeable = {i.id for i in current
                  if plan.may_change_status(actor.role, actor.org_key, i.org_key)}
    blocks = [turn.render(TEMPLATE, "insats_item", i=item) for item in items]
    text, shown, page = list_page(
        turn, blocks or [turn.render(TEMPLATE, "no_insatser")],
        header=turn.render(TEMPLATE, "insats_header"),
        footer=turn.render(TEMPLATE, "insats_footer"),
        gap="\n\n" if items else "\n", separator="\n\n")
    on_page = [items[i] for i in shown] if items else []
    rows = [[Button(f"{STATUS_BUTTONS[target]} #{item['id']}", "s", f"{item['id']}.{target}")
             for target in plan.TRANSITIONS.get(item["status"], ())]
            for item in on_page if item["id"] in changeable]
    rows.append([Button(NEW_INSATS, "n")])
    return Screen(text, rows, cancel=False, page=page)


async def _change(turn: Turn, insats_id: int, target: str) -> Next:
    """Change an insats's status, if est.planning allows it from where it stands now."""
    insats = await store.lock_insats(turn.session, insats_id)
    if insats is None:
        raise Invalid(turn.render(TEMPLATE, "unknown_insats"))
    if not plan.may_change_status(turn.actor.role, turn.actor.org_key, insats.org_key):
        raise Invalid(turn.render(TEMPLATE, "not_your_insats", id=insats.id,
                                  org_name=common.org_name(turn.services, insats.org_key)))
    current = plan.effective_status(insats.status, insats.starts_at, insats.ends_at, turn.now)
    problem = plan.check_status_change(current, target)
    if problem is not None:
        turn.toast = problem  # and the list is shown as it stands now
        return LIST
    if target == plan.CANCELLED and turn.step == LIST:
        turn.data["insats_id"] = insats.id
        return CONFIRM
    insats.status = target
    turn.session.add(insats)
    turn.toast = turn.notice = turn.render(TEMPLATE, "status_changed", id=insats.id,
                                           status_label=plan.STATUS_LABELS[target])
    return LIST


async def _on_list(turn: Turn, action: str, arg: str) -> Next:
    if action == "n":
        turn.follow_with = await common.open_registration(turn, INSATS, IN_AREA)
        return LIST
    id_text, _, target = arg.partition(".")
    insats_id = row_id(id_text)
    if action != "s" or insats_id is None:
        raise Invalid(turn.render(*common.ENDED))
    return await _change(turn, insats_id, target)


async def _confirm(turn: Turn) -> Screen:
    insats = await turn.session.get(Insats, turn.data["insats_id"])
    if insats is None:
        return Screen(turn.render(TEMPLATE, "unknown_insats"), [[Button(labels.KEEP, "k")]],
                      cancel=False)
    text = turn.render(TEMPLATE, "confirm_cancel", i=common.insats_view(turn.services, insats))
    rows = [[Button(CONFIRM_CANCEL, "y"), Button(labels.KEEP, "k")]]
    return Screen(text, rows, cancel=False)


async def _on_confirm(turn: Turn, action: str, arg: str) -> Next:
    if action == "k":
        return LIST
    if action != "y":
        raise Invalid(turn.render(*common.ENDED))
    return await _change(turn, turn.data["insats_id"], plan.CANCELLED)


LIST_DIALOG = common.list_dialog(LIST_KIND, LIST, {
    LIST: Step(_list, press=_on_list),
    CONFIRM: Step(_confirm, press=_on_confirm),
})


# ---------------------------------------------------------------- the registration

def _areas(turn: Turn, _draft) -> list[list[Button]]:
    return in_rows([Button(a.name, "a", a.key) for a in turn.services.config.areas], 2)


def _places(turn: Turn, draft) -> list[list[Button]]:
    area = turn.services.config.area(draft.area or "")
    places = [Button(p.name, "p", p.key) for p in (area.places if area else [])]
    return [*in_rows(places, 2), [Button(common.WHOLE_AREA, "p", plan.WHOLE)],
            [Button(labels.OTHER_PLACE, "pt")]]


def _organisations(turn: Turn, _draft) -> list[list[Button]]:
    return [[Button(o.name, "o", o.key)] for o in turn.services.config.organisations]


def _periods(turn: Turn, _draft) -> list[list[Button]]:
    presets = [[Button(label, "w", key)]
               for key, label in plan.period_presets(turn.services.local_now())]
    return [*presets, [Button(TYPE_PERIOD, "wt")]]


async def _save(turn: Turn, draft) -> Finish:
    insats = await store.add_insats(
        turn.session, area_key=draft.area, place_key=draft.place_key,
        place_name=draft.place_name, what=draft.what, org_key=draft.org,
        starts_at=draft.start(), ends_at=draft.end(),
        created_by_member_id=turn.actor.member_id, created_at=turn.now)
    draft.insats_id = insats.id
    common.keep(turn, draft)
    if draft.place_key:
        services, bot, insats_id = turn.services, turn.bot, insats.id
        # The thank-yous go out once the insats is committed and the coordinator has the receipt.
        turn.after.append(lambda: send_feedback(services, bot, insats_id))
    return Finish(turn.render(TEMPLATE, "insats_saved",
                              d=common.draft_view(turn.services, draft)))


DIALOG = common.registration_dialog(INSATS, IN_AREA, {
    IN_AREA: common.area_step(IN_AREA, _areas),
    IN_PLACE: common.choice_step(IN_PLACE, _places, or_typed=True),
    IN_PLACE_T: common.text_step(IN_PLACE_T),
    IN_WHAT: common.text_step(IN_WHAT),
    IN_ORG: common.choice_step(IN_ORG, _organisations),
    IN_PERIOD: common.choice_step(IN_PERIOD, _periods, or_typed=True),
    IN_PERIOD_T: common.text_step(IN_PERIOD_T),
    IN_CONFIRM: common.confirm_step(IN_CONFIRM, _save),
})


def build_insats_handlers() -> list[BaseHandler]:
    return [CommandHandler("insats", common.list_or_register(INSATS, LIST_KIND),
                           filters=filters.ChatType.PRIVATE)]
