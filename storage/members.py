"""Members, invitations and registered groups.

Every change of a membership or an invitation writes its audit row here, in the same
transaction, so the bot and the shell record it alike.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.retention import ENDED_MEMBER_NAME as ENDED_NAME
from storage import audit
from storage.models import Dialog, Group, Invite, Member, Report

ROLES = ("reporter", "coordinator", "admin")
# 32 random bytes → 43 url-safe characters: fits Telegram's 64-char deep-link payload.
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def member_by_user(session: AsyncSession, telegram_user_id: int) -> Member | None:
    """The current member with this Telegram id; an ended membership is nobody."""
    return (
        await session.exec(select(Member).where(Member.telegram_user_id == telegram_user_id,
                                                col(Member.ended_at).is_(None)))
    ).first()


async def _any_member_by_user(session: AsyncSession, telegram_user_id: int) -> Member | None:
    return (
        await session.exec(select(Member).where(Member.telegram_user_id == telegram_user_id))
    ).first()


async def add_member(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    first_name: str,
    role: str,
    org_key: str,
    now: datetime,
    invited_by_member_id: int | None = None,
) -> Member:
    """Register a member, or update role and organisation of an existing one."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    member = await _any_member_by_user(session, telegram_user_id)
    if member is None:
        member = Member(telegram_user_id=telegram_user_id, first_name=first_name[:128],
                        role=role, org_key=org_key, joined_at=now,
                        invited_by_member_id=invited_by_member_id)
    else:
        if member.ended_at is not None:  # coming back after an ended membership
            member.ended_at, member.joined_at = None, now
            member.first_name, member.paused = first_name[:128], False
            member.invited_by_member_id = invited_by_member_id
        member.role, member.org_key, member.active = role, org_key, True
    session.add(member)
    await session.flush()
    return member


async def create_invite(
    session: AsyncSession,
    *,
    role: str,
    org_key: str,
    now: datetime,
    hours: float = 72,
    created_by_member_id: int | None = None,
) -> str:
    """A fresh single-use token; only its hash is stored, the token is shown once."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    invite = Invite(token_hash=hash_token(token), role=role, org_key=org_key, created_at=now,
                    expires_at=now + timedelta(hours=hours),
                    created_by_member_id=created_by_member_id)
    session.add(invite)
    await session.flush()
    await audit.record(session, "invite.created", now=now, actor_member_id=created_by_member_id,
                       actor=None if created_by_member_id else audit.SHELL,
                       object_kind="invite", object_id=invite.id,
                       details={"role": role, "org": org_key, "hours": hours})
    return token


class InviteProblem(Exception):
    """Why a token cannot be used: ``unknown``, ``used``, ``expired``, ``revoked``, or
    ``member`` (the person is a member already: nothing changes, the token stays unused)."""

    def __init__(self, reason: str, member: Member | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # Plain values: the session is rolled back before the reply is written.
        self.role = member.role if member else None
        self.org_key = member.org_key if member else None


async def redeem_invite(
    session: AsyncSession, *, token: str, telegram_user_id: int, first_name: str, now: datetime
) -> Member:
    """Turn a valid token into a membership; the token can never be used again."""
    invite = (
        await session.exec(
            select(Invite).where(Invite.token_hash == hash_token(token)).with_for_update()
        )
    ).first()
    if invite is None:
        raise InviteProblem("unknown")
    if invite.revoked_at is not None:
        raise InviteProblem("revoked")
    if invite.used_at is not None:
        raise InviteProblem("used")
    if invite.expires_at <= now:
        raise InviteProblem("expired")
    current = await member_by_user(session, telegram_user_id)
    if current is not None:
        raise InviteProblem("member", current)
    member = await add_member(session, telegram_user_id=telegram_user_id,
                              first_name=first_name, role=invite.role, org_key=invite.org_key,
                              now=now, invited_by_member_id=invite.created_by_member_id)
    invite.used_at, invite.used_by_member_id = now, member.id
    session.add(invite)
    await session.flush()
    await audit.record(session, "invite.used", now=now, actor_member_id=member.id,
                       object_kind="invite", object_id=invite.id,
                       details={"role": invite.role, "org": invite.org_key})
    return member


async def open_invites(session: AsyncSession, now: datetime) -> list[Invite]:
    """Invitations that can still be used, newest first."""
    return list((await session.exec(
        select(Invite).where(col(Invite.used_at).is_(None), col(Invite.revoked_at).is_(None),
                             col(Invite.expires_at) > now)
        .order_by(col(Invite.created_at).desc(), col(Invite.id).desc()))).all())


async def revoke_invite(session: AsyncSession, invite_id: int, *, now: datetime,
                        by_member_id: int | None) -> Invite | None:
    """Revoke an open invitation; None if there is no such open invitation."""
    invite = await session.get(Invite, invite_id, with_for_update=True)
    if invite is None or invite.used_at is not None or invite.revoked_at is not None \
            or invite.expires_at <= now:
        return None
    invite.revoked_at, invite.revoked_by_member_id = now, by_member_id
    session.add(invite)
    await audit.record(session, "invite.revoked", now=now, actor_member_id=by_member_id,
                       actor=None if by_member_id else audit.SHELL,
                       object_kind="invite", object_id=invite.id,
                       details={"role": invite.role, "org": invite.org_key})
    return invite


# ---------------------------------------------------------------- administering members

class MemberProblem(Exception):
    """Why a change is refused: ``last_admin`` (the bot would have no admin left)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _admin_count(session: AsyncSession) -> int:
    return (await session.exec(
        select(func.count()).select_from(Member)
        .where(Member.role == "admin", col(Member.ended_at).is_(None)))).one()


async def _guard_last_admin(session: AsyncSession, member: Member) -> None:
    if member.role == "admin" and await _admin_count(session) <= 1:
        raise MemberProblem("last_admin")


async def current_member(session: AsyncSession, member_id: int) -> Member | None:
    member = await session.get(Member, member_id, with_for_update=True)
    return member if member is not None and member.ended_at is None else None


async def set_role(session: AsyncSession, member: Member, role: str, *, now: datetime,
                   by_member_id: int | None) -> Member:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if role == member.role:
        return member
    if role != "admin":
        await _guard_last_admin(session, member)
    old, member.role = member.role, role
    session.add(member)
    await audit.record(session, "member.role", now=now, actor_member_id=by_member_id,
                       actor=None if by_member_id else audit.SHELL,
                       object_kind="member", object_id=member.id,
                       details={"from": old, "to": role})
    return member


async def move_member(session: AsyncSession, member: Member, org_key: str, *, now: datetime,
                      by_member_id: int | None) -> Member:
    if org_key == member.org_key:
        return member
    old, member.org_key = member.org_key, org_key
    session.add(member)
    await audit.record(session, "member.org", now=now, actor_member_id=by_member_id,
                       actor=None if by_member_id else audit.SHELL,
                       object_kind="member", object_id=member.id,
                       details={"from": old, "to": org_key})
    return member


async def end_membership(session: AsyncSession, member: Member, *, now: datetime,
                         by_member_id: int | None, erase_name: bool = False) -> Member:
    """End a membership: from now on the person is a stranger. Reports stay.

    Open dialogs are closed. ``erase_name`` (the member leaving by themselves) erases
    their Telegram name at once; otherwise the gallring does it later.
    """
    await _guard_last_admin(session, member)
    member.ended_at, member.active = now, False
    if erase_name:
        member.first_name = ENDED_NAME
    session.add(member)
    await session.exec(update(Dialog).where(Dialog.member_id == member.id,
                                            Dialog.status == "open")
                       .values(status="cancelled", updated_at=now))
    self_ended = by_member_id == member.id
    await audit.record(session, "member.left" if self_ended else "member.ended", now=now,
                       actor_member_id=by_member_id,
                       actor=None if by_member_id else audit.SHELL,
                       object_kind="member", object_id=member.id,
                       details={"role": member.role, "org": member.org_key})
    return member


async def last_report_at(session: AsyncSession, member_id: int) -> datetime | None:
    return (await session.exec(select(func.max(Report.received_at))
                               .where(Report.member_id == member_id))).one()


async def member_names(session: AsyncSession, member_ids: set[int]) -> dict[int, str]:
    """Names by id, ended members included (an audit row outlives a membership)."""
    if not member_ids:
        return {}
    rows = await session.exec(select(Member.id, Member.first_name)
                              .where(col(Member.id).in_(sorted(member_ids))))
    return dict(rows.all())


async def list_members(session: AsyncSession, org_key: str | None = None
                       ) -> list[tuple[Member, datetime | None]]:
    """Current members by organisation and name, each with the time of their last report."""
    last_report = (select(Report.member_id, func.max(Report.received_at).label("last"))
                   .group_by(Report.member_id).subquery())
    query = (select(Member, last_report.c.last)
             .outerjoin(last_report, last_report.c.member_id == Member.id)
             .where(col(Member.ended_at).is_(None))
             .order_by(col(Member.org_key), col(Member.first_name), col(Member.id)))
    if org_key is not None:
        query = query.where(Member.org_key == org_key)
    return [(m, last) for m, last in (await session.exec(query)).all()]


async def group_by_chat(session: AsyncSession, chat_id: int) -> Group | None:
    return (await session.exec(select(Group).where(Group.chat_id == chat_id))).first()


async def register_group(
    session: AsyncSession, *, chat_id: int, title: str, member_id: int, now: datetime,
    kind: str = "coordinator",
) -> Group:
    group = await group_by_chat(session, chat_id)
    if group is None:
        group = Group(chat_id=chat_id, title=title[:256], kind=kind,
                      registered_by_member_id=member_id, registered_at=now)
    group.active, group.kind, group.title = True, kind, title[:256]
    session.add(group)
    await session.flush()
    await audit.record(session, "group.registered", now=now, actor_member_id=member_id,
                       object_kind="group", object_id=group.id, details={"kind": kind})
    return group


async def move_group(session: AsyncSession, old_chat_id: int, new_chat_id: int) -> bool:
    """A group became a supergroup: keep its registration under the new id."""
    group = await group_by_chat(session, old_chat_id)
    if group is None or await group_by_chat(session, new_chat_id) is not None:
        return False
    group.chat_id = new_chat_id
    session.add(group)
    await session.flush()
    return True


async def members_by_role(session: AsyncSession, role: str) -> list[Member]:
    return list(
        (await session.exec(select(Member).where(Member.role == role,
                                                 col(Member.ended_at).is_(None))
                            .order_by(col(Member.id))))
        .all()
    )
