"""Members, invitations and registered groups."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Group, Invite, Member

ROLES = ("reporter", "coordinator", "admin")
# 32 random bytes → 43 url-safe characters: fits Telegram's 64-char deep-link payload.
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def member_by_user(session: AsyncSession, telegram_user_id: int) -> Member | None:
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
    member = await member_by_user(session, telegram_user_id)
    if member is None:
        member = Member(telegram_user_id=telegram_user_id, first_name=first_name[:128],
                        role=role, org_key=org_key, joined_at=now,
                        invited_by_member_id=invited_by_member_id)
    else:
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
    session.add(
        Invite(token_hash=hash_token(token), role=role, org_key=org_key, created_at=now,
               expires_at=now + timedelta(hours=hours),
               created_by_member_id=created_by_member_id)
    )
    await session.flush()
    return token


class InviteProblem(Exception):
    """Why a token cannot be used: ``unknown``, ``used`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
    if invite.used_at is not None:
        raise InviteProblem("used")
    if invite.expires_at <= now:
        raise InviteProblem("expired")
    member = await add_member(session, telegram_user_id=telegram_user_id,
                              first_name=first_name, role=invite.role, org_key=invite.org_key,
                              now=now, invited_by_member_id=invite.created_by_member_id)
    invite.used_at, invite.used_by_member_id = now, member.id
    session.add(invite)
    await session.flush()
    return member


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
        (await session.exec(select(Member).where(Member.role == role).order_by(col(Member.id))))
        .all()
    )
