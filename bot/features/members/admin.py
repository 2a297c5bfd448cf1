"""``/medlemmar``: members by organisation, and what admins change about them.

Admins see everyone and can change a role, move a member to another organisation, end
a membership, and list and revoke open invitations. Coordinators see their own
organisation's members, read-only. Every change goes through storage.members, which
writes its audit row in the same transaction; the rule that the bot never loses its
last admin is there too.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.core.commands_menu import publish_member_commands
from bot.core.context import BotContext
from bot.core.telegram_io import send
from bot.dialogs import Button, DialogSpec, Invalid, Next, Screen, Step, Turn
from bot.dialogs.callbacks import row_id
from bot.dialogs.lists import list_page
from messages.labels import ROLE_LABELS
from storage import members as store
from storage.models import Member

KIND = "members"
TEMPLATE = "members"
LIST, MEMBER, ROLE, ORG, END, INVITES = "list", "member", "role", "org", "end", "invites"


def _render(turn: Turn, macro: str, **context: object) -> str:
    return turn.render(TEMPLATE, macro, **context)


def _visible_org(turn: Turn) -> str | None:
    """Whose members this person may see: everyone (admins) or their own organisation."""
    return None if turn.actor.is_admin else turn.actor.org_key


def _require_admin(turn: Turn) -> None:
    if not turn.actor.is_admin:
        raise Invalid(_render(turn, "only_admins"))


async def _target(turn: Turn) -> Member:
    """The member the dialog is about, still a member (it may have ended meanwhile)."""
    member = await store.current_member(turn.session, int(turn.data.get("member_id", 0)))
    if member is None:
        raise Invalid(_render(turn, "gone"))
    return member


# ---------------------------------------------------------------- the list

async def _list(turn: Turn) -> Screen:
    config = turn.services.config
    org_key = _visible_org(turn)
    rows = await store.list_members(turn.session, org_key)
    blocks = [_render(turn, "member_line", name=m.first_name, role=m.role,
                      org_name=config.organisation_name(m.org_key), last_report=last)
              for m, last in rows]
    can_change = turn.actor.is_admin
    header = _render(turn, "list_header", count=len(rows),
                     org_name=config.organisation_name(org_key) if org_key else None)
    text, shown, page = list_page(turn, blocks, header=header,
                                  footer="\n\n" + _render(turn, "list_footer",
                                                          can_change=can_change))
    buttons: list[list[Button]] = []
    if can_change:
        buttons = [[Button(_render(turn, "member_button", name=rows[i][0].first_name,
                                   role=rows[i][0].role), "m", str(rows[i][0].id))]
                   for i in shown]
        buttons.append([Button("📨 Öppna inbjudningar", "i")])
    return Screen(text, buttons, page=page)


async def _on_list(turn: Turn, action: str, arg: str) -> Next:
    _require_admin(turn)
    if action == "i":
        return INVITES
    member_id = row_id(arg)
    if action != "m" or member_id is None:
        raise Invalid(turn.render("dialogs", "ended"))
    turn.data["member_id"] = member_id
    await _target(turn)
    return MEMBER


# ---------------------------------------------------------------- one member

async def _member(turn: Turn) -> Screen:
    member = await _target(turn)
    last = await store.last_report_at(turn.session, member.id)
    text = _render(turn, "member_card", name=member.first_name, role=member.role,
                   org_name=turn.services.config.organisation_name(member.org_key),
                   joined=member.joined_at, last_report=last)
    return Screen(text, [[Button("Byt roll", "r"), Button("Byt organisation", "o")],
                         [Button("Avsluta medlemskap", "e")]], back=True)


async def _on_member(turn: Turn, action: str, arg: str) -> Next:
    _require_admin(turn)
    await _target(turn)
    steps = {"r": ROLE, "o": ORG, "e": END}
    if action not in steps:
        raise Invalid(turn.render("dialogs", "ended"))
    return steps[action]


async def _roles(turn: Turn) -> Screen:
    member = await _target(turn)
    buttons = [Button(label, "r", role) for role, label in ROLE_LABELS.items()
               if role != member.role]
    return Screen(_render(turn, "choose_role", name=member.first_name), [buttons], back=True)


async def _on_role(turn: Turn, action: str, arg: str) -> Next:
    _require_admin(turn)
    member = await _target(turn)
    if action != "r" or arg not in ROLE_LABELS:
        raise Invalid(turn.render("dialogs", "ended"))
    try:
        await store.set_role(turn.session, member, arg, now=turn.now,
                             by_member_id=turn.actor.member_id)
    except store.MemberProblem as problem:
        raise Invalid(_render(turn, "last_admin")) from problem
    bot, user_id = turn.bot, member.telegram_user_id
    turn.after.append(lambda: publish_member_commands(bot, user_id, arg))
    turn.notice = _render(turn, "role_changed", name=member.first_name, role=arg)
    return MEMBER


async def _orgs(turn: Turn) -> Screen:
    member = await _target(turn)
    rows = [[Button(org.name, "o", org.key)] for org in turn.services.config.organisations
            if org.key != member.org_key]
    return Screen(_render(turn, "choose_org", name=member.first_name), rows, back=True)


async def _on_org(turn: Turn, action: str, arg: str) -> Next:
    _require_admin(turn)
    member = await _target(turn)
    org = turn.services.config.organisation(arg) if action == "o" else None
    if org is None:
        raise Invalid(turn.render("dialogs", "ended"))
    await store.move_member(turn.session, member, org.key, now=turn.now,
                            by_member_id=turn.actor.member_id)
    turn.notice = _render(turn, "org_changed", name=member.first_name, org_name=org.name)
    return MEMBER


async def _confirm_end(turn: Turn) -> Screen:
    member = await _target(turn)
    return Screen(_render(turn, "confirm_end", name=member.first_name),
                  [[Button("Ja, avsluta medlemskapet", "y")]], back=True)


async def _on_end(turn: Turn, action: str, arg: str) -> Next:
    _require_admin(turn)
    member = await _target(turn)
    if action != "y":
        raise Invalid(turn.render("dialogs", "ended"))
    try:
        await store.end_membership(turn.session, member, now=turn.now,
                                   by_member_id=turn.actor.member_id)
    except store.MemberProblem as problem:
        raise Invalid(_render(turn, "last_admin")) from problem
    turn.notice = _render(turn, "ended_member", name=member.first_name)
    turn.data.pop("member_id", None)
    return LIST


# ---------------------------------------------------------------- invitations

async def _invites(turn: Turn) -> Screen:
    config = turn.services.config
    invites = await store.open_invites(turn.session, turn.now)
    if not invites:
        return Screen(_render(turn, "no_invites"), back=True)
    creators = await store.member_names(
        turn.session, {i.created_by_member_id for i in invites if i.created_by_member_id})
    lines = [_render(turn, "invite_line", number=n, role=invite.role,
                     org_name=config.organisation_name(invite.org_key),
                     created_by=creators.get(invite.created_by_member_id)
                     or _render(turn, "shell"),
                     expires=invite.expires_at)
             for n, invite in enumerate(invites, 1)]
    text, shown, page = list_page(turn, lines,
                                  header=_render(turn, "invites_header", count=len(invites)))
    buttons = [[Button(_render(turn, "revoke_button", number=i + 1), "v",
                       str(invites[i].id))] for i in shown]
    return Screen(text, buttons, back=True, page=page)


async def _on_invites(turn: Turn, action: str, arg: str) -> Next:
    _require_admin(turn)
    invite_id = row_id(arg)
    if action != "v" or invite_id is None:
        raise Invalid(turn.render("dialogs", "ended"))
    revoked = await store.revoke_invite(turn.session, invite_id, now=turn.now,
                                        by_member_id=turn.actor.member_id)
    if revoked is None:
        raise Invalid(turn.render("dialogs", "ended"))
    turn.notice = _render(turn, "revoked")
    return INVITES


DIALOG = DialogSpec(
    kind=KIND,
    first_step=LIST,
    min_role="coordinator",
    cancelled=lambda turn: _render(turn, "cancelled"),
    ended=(TEMPLATE, "ended"),
    steps={
        LIST: Step(_list, press=_on_list),
        MEMBER: Step(_member, press=_on_member, back=LIST),
        ROLE: Step(_roles, press=_on_role, back=MEMBER),
        ORG: Step(_orgs, press=_on_org, back=MEMBER),
        END: Step(_confirm_end, press=_on_end, back=MEMBER),
        INVITES: Step(_invites, press=_on_invites, back=LIST),
    },
)


async def members_command(update: Update, context: BotContext) -> None:
    actor = context.actor
    if actor is None or not actor.is_coordinator:
        await send(update, context.services.render(TEMPLATE, "coordinators_only"))
        return
    await context.dialogs.start(update, context, KIND)


def build_members_handlers() -> list[BaseHandler]:
    return [CommandHandler("medlemmar", members_command, filters=filters.ChatType.PRIVATE)]
