"""``/handelse``: the coming events and known risk days, and ``/handelse ny``.

Two dialogs: the list (kind ``events``: paged, with "➕ Ny händelse"), and the
registration (kind ``event``): area, what, day and time, "Spara". The Event row is
made by "Spara" inside the turn's transaction and its id kept in the dialog's data.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.telegram_io import in_rows
from bot.dialogs import Button, Finish, Invalid, Next, Screen, Step, Turn
from bot.dialogs.lists import list_page
from bot.features.planning import common
from bot.features.planning.common import TEMPLATE
from est import planning as plan
from est.planning import EV_AREA, EV_CONFIRM, EV_DAY, EV_TIME, EV_WHAT, EV_WHEN_T, EVENT
from storage import planning as store

LIST_KIND, LIST = "events", "list"
NEW_EVENT = "➕ Ny händelse"
TYPE_WHEN, TYPE_TIME = "Skriv datum och tid", "Skriv tid"
RISK_SHOWN = 12  # the year's risk days are few; twelve lines keep the footer short


# ---------------------------------------------------------------- the list

async def _list(turn: Turn) -> Screen:
    services, config = turn.services, turn.services.config
    today = services.local_now().date()
    since = datetime.combine(today, time(0), tzinfo=config.tz).astimezone(UTC)
    events = await store.upcoming_events(
        turn.session, since=since, until=since + timedelta(days=plan.EVENT_LIST_DAYS))
    blocks = [turn.render(TEMPLATE, "event_line", e={
        "when": plan.format_moment(common.local(services, e.starts_at)), "title": e.title,
        "area_name": common.area_name(services, e.area_key)}) for e in events]
    risk_days = plan.known_risk_days(
        today, today + timedelta(days=plan.RISK_LIST_DAYS),
        risk_dates=config.risk_dates, school_holidays=config.school_holidays)
    risk = [{"when": plan.day_label(r.first) + (f" – {plan.day_label(r.last)}"
                                                if r.is_period else ""),
             "names": ", ".join(r.names)} for r in risk_days[:RISK_SHOWN]]
    text, _shown, page = list_page(
        turn, blocks or [turn.render(TEMPLATE, "no_events")],
        header=turn.render(TEMPLATE, "events_header", days=plan.EVENT_LIST_DAYS),
        footer=turn.render(TEMPLATE, "events_footer", risk=risk,
                           risk_days=plan.RISK_LIST_DAYS))
    return Screen(text, [[Button(NEW_EVENT, "n")]], cancel=False, page=page)


async def _on_list(turn: Turn, action: str, arg: str) -> Next:
    if action != "n":
        raise Invalid(turn.render(*common.ENDED))
    turn.follow_with = await common.open_registration(turn, EVENT, EV_AREA)
    return LIST


LIST_DIALOG = common.list_dialog(LIST_KIND, LIST, {
    LIST: Step(_list, press=_on_list),
})


# ---------------------------------------------------------------- the registration

def _areas(turn: Turn, _draft) -> list[list[Button]]:
    areas = [Button(a.name, "a", a.key) for a in turn.services.config.areas]
    return [*in_rows(areas, 2), [Button(common.WHOLE_KOMMUN, "a", plan.WHOLE)]]


def _days(turn: Turn, _draft) -> list[list[Button]]:
    days = [Button(label, "d", day.isoformat())
            for day, label in plan.event_day_choices(turn.services.local_now().date())]
    return [*in_rows(days, 2), [Button(TYPE_WHEN, "dt")]]


def _hours(turn: Turn, draft) -> list[list[Button]]:
    hours = [Button(f"{h:02d}:00", "t", str(h))
             for h in common.draft_view(turn.services, draft)["hours"]]
    return [*in_rows(hours, 4), [Button(TYPE_TIME, "tt")]]


async def _save(turn: Turn, draft) -> Finish:
    event = await store.add_event(turn.session, area_key=draft.area, starts_at=draft.start(),
                                  title=draft.what, member_id=turn.actor.member_id,
                                  now=turn.now)
    draft.event_id = event.id
    common.keep(turn, draft)
    return Finish(turn.render(TEMPLATE, "event_saved",
                              d=common.draft_view(turn.services, draft)))


DIALOG = common.registration_dialog(EVENT, EV_AREA, {
    EV_AREA: common.area_step(EV_AREA, _areas),
    EV_WHAT: common.text_step(EV_WHAT),
    EV_DAY: common.choice_step(EV_DAY, _days, or_typed=True),
    EV_TIME: common.choice_step(EV_TIME, _hours, or_typed=True),
    EV_WHEN_T: common.text_step(EV_WHEN_T),
    EV_CONFIRM: common.confirm_step(EV_CONFIRM, _save),
})


def build_event_handlers() -> list[BaseHandler]:
    return [CommandHandler("handelse", common.list_or_register(EVENT, LIST_KIND),
                           filters=filters.ChatType.PRIVATE)]
