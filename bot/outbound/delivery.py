"""Delivery you can trust: every post reaches each recipient once, within Telegram's limits.

``broadcast`` claims the (kind, period) in the outbox (storage.outbox), records every
recipient as a pending delivery in the same transaction, commits, and only then sends.
Each delivery is leased before an attempt and marked right after Telegram accepted each
message, so a restart (``resume_unfinished``) or a second process continues where the
first stopped and nobody gets a second copy. The one window no design closes: Telegram
accepted a message and the process died before the commit; that one part is sent again.

Failures:
- 429: AIORateLimiter (bot.core.rate_limit) waits and retries; if it gives up, the delivery
  goes back to pending and the next resume (startup, or the schedule's periodic tick)
  retries it, up to ``storage.outbox.MAX_ATTEMPTS`` attempts in all. 5xx and timeouts:
  the same, after bot.core.rate_limit's own retries with back-off.
- 403 (blocked, or the bot removed from a group): the member or group is marked
  inactive, the delivery ``blocked``, and the admins are told in Swedish.
- ChatMigrated: the group's new id is stored (storage.members.move_group) and the
  message is sent there.
- Any other 400: ``failed`` for good (sending it again would fail the same way).

Pace: every message goes out in the rate limiter's broadcast lane (bot.core.rate_limit:
Telegram's 30/s overall, one a second per chat, 20 a minute per group, as rolling windows,
with answers to people ahead of broadcasts), and messages to one chat are spaced
``CHAT_GAP_S`` apart. ``WORKERS`` deliveries are in hand at once, enough to keep nearly
30 messages a second going while each chat waits its second between the parts of a post;
at most ``DB_WRITERS`` of them write to the database at a time.

``send_once`` is the same machinery for one-off pushes (alerts, level changes): one
message per (kind, key) and chat, returning its message_id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlmodel import col, select
from telegram import InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.core.rate_limit import BROADCAST
from bot.core.services import Services
from bot.outbound.posts import Image, Post
from est import posts as est_posts
from storage import outbox
from storage.members import group_by_chat, member_by_user, move_group
from storage.models import Broadcast, Delivery, Group, Member

log = logging.getLogger(__name__)

Recipient = outbox.Recipient
ADMIN_KIND = "admin"  # notices to admins; a 403 there does not notify the admins again
CHAT_GAP_S = 1.0  # Telegram: about one message per second per chat
WORKERS = 64  # deliveries in hand at once (a post's parts to one chat are a second apart)
# Broadcast transactions at once (lease, record a part, mark sent). More would only queue
# for SQLite's one writer, ahead of the commits of the dialogs people are waiting on.
DB_WRITERS = 4
MAX_MIGRATIONS = 2


class Sent(NamedTuple):
    """Where a one-off push landed (the chat id changes when a group was upgraded)."""

    chat_id: int
    message_id: int


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    status: str  # outbox.SENT, BLOCKED, FAILED or PENDING (to be retried)
    chat_id: int
    member_id: int | None = None
    group_id: int | None = None


# ---------------------------------------------------------------- pacing

_last_sent: dict[int, float] = {}


def _sleeper(bot) -> Callable[[float], Awaitable[None]]:
    """The rate limiter's sleep (tests inject one that returns at once), else asyncio's."""
    return getattr(getattr(bot, "rate_limiter", None), "sleep", None) or asyncio.sleep


def _clock(bot) -> Callable[[], float]:
    return getattr(getattr(bot, "rate_limiter", None), "clock", None) or time.monotonic


async def _pace(bot, chat_id: int) -> None:
    """Space messages to one chat ``CHAT_GAP_S`` apart (the limiter keeps the rest)."""
    clock = _clock(bot)
    now = clock()
    wait = _last_sent.get(chat_id, -CHAT_GAP_S) + CHAT_GAP_S - now
    _last_sent[chat_id] = now + max(wait, 0.0)  # this send's slot
    if wait > 0:
        await _sleeper(bot)(wait)
    if len(_last_sent) > 10_000:
        horizon = clock() - CHAT_GAP_S
        for key in [k for k, t in _last_sent.items() if t < horizon]:
            _last_sent.pop(key, None)


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _writing() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _writers:
        _writers[loop] = asyncio.Semaphore(DB_WRITERS)
    return _writers[loop]


def _lane(bot) -> dict[str, str]:
    """The broadcast lane of the rate limiter, when the bot has one."""
    return {"rate_limit_args": BROADCAST} if getattr(bot, "rate_limiter", None) else {}


Part = str | Image


def parts_of(post: Post) -> list[Part]:
    """The messages of a post, in sending order: the texts, then the pictures."""
    return [*post.texts, *post.images]


async def _send_part(bot, chat_id: int, part: Part,
                     markup: InlineKeyboardMarkup | None = None) -> int:
    await _pace(bot, chat_id)
    if isinstance(part, Image):
        message = await bot.send_photo(chat_id, photo=part.png, filename=part.filename,
                                       caption=part.caption or None, parse_mode=ParseMode.HTML,
                                       **_lane(bot))
    else:
        message = await bot.send_message(chat_id, part, parse_mode=ParseMode.HTML,
                                         reply_markup=markup, disable_web_page_preview=True,
                                         **_lane(bot))
    return message.message_id


# ---------------------------------------------------------------- one delivery

async def _attempt(services: Services, bot, delivery_id: int, parts: list[Part],
                   markup: InlineKeyboardMarkup | None = None) -> Outcome | None:
    """Lease one delivery and send what is still missing of it. None if someone else has it."""
    async with services.db.session() as session:
        async with _writing():
            delivery = await outbox.lease(session, delivery_id, services.now())
            # End the read that loaded it: no pool connection is held while it waits to be sent.
            await session.commit()
        if delivery is None:
            return None
        return await _send_leased(services, bot, session, delivery, parts, markup)


async def _send_leased(services: Services, bot, session, delivery: Delivery, parts: list[Part],
                       markup: InlineKeyboardMarkup | None) -> Outcome:
    chat_id, ids, migrations = delivery.chat_id, list(delivery.message_ids or []), 0

    def outcome(status: str) -> Outcome:
        return Outcome(delivery.id, status, chat_id, delivery.member_id, delivery.group_id)

    try:
        while len(ids) < len(parts):
            try:
                ids.append(await _send_part(bot, chat_id, parts[len(ids)], markup))
            except ChatMigrated as exc:
                migrations += 1
                if migrations > MAX_MIGRATIONS:
                    raise
                chat_id = await _follow_migration(services, session, delivery, chat_id,
                                                  exc.new_chat_id)
                continue
            if len(ids) < len(parts):
                async with _writing():
                    await outbox.record_part(session, delivery.id, ids)
        async with _writing():
            await outbox.mark_sent(session, delivery.id, ids, services.now())
        return outcome(outbox.SENT)
    except Forbidden as exc:
        await outbox.mark_blocked(session, delivery.id, str(exc))
        await _deactivate(services, chat_id, delivery.member_id, delivery.group_id)
        log.info("delivery %s to chat %s blocked: %s", delivery.id, chat_id, exc)
        return outcome(outbox.BLOCKED)
    except (BadRequest, ChatMigrated) as exc:
        await _keep_parts(session, delivery.id, ids)
        await outbox.mark_failed(session, delivery, str(exc), retry=False)
        log.warning("delivery %s to chat %s failed: %s", delivery.id, chat_id, exc)
        return outcome(outbox.FAILED)
    except (RetryAfter, NetworkError) as exc:
        await _keep_parts(session, delivery.id, ids)
        status = await outbox.mark_failed(session, delivery, str(exc), retry=True)
        log.warning("delivery %s to chat %s: %s (attempt %d; now %s)", delivery.id, chat_id,
                    exc, delivery.attempts, status)
        return outcome(status)
    except Exception as exc:
        log.exception("delivery %s to chat %s: unexpected error", delivery.id, chat_id)
        await session.rollback()
        await _keep_parts(session, delivery.id, ids)
        status = await outbox.mark_failed(session, delivery, f"{type(exc).__name__}: {exc}",
                                          retry=not isinstance(exc, TelegramError))
        return outcome(status)


async def _keep_parts(session, delivery_id: int, ids: list[int]) -> None:
    if ids:
        await outbox.record_part(session, delivery_id, ids)


async def _follow_migration(services: Services, session, delivery: Delivery, old: int,
                            new: int) -> int:
    """The group became a supergroup: store its new id everywhere, deliver there."""
    async with services.db.session() as other:
        if await move_group(other, old, new):
            log.info("group %s became supergroup %s (noticed while sending)", old, new)
        await other.commit()
    if not await outbox.move_delivery(session, delivery.id, new):
        raise BadRequest(f"chat {new} already has a delivery of this broadcast")
    return new


async def _deactivate(services: Services, chat_id: int, member_id: int | None,
                      group_id: int | None) -> None:
    async with services.db.session() as session:
        if member_id is None and group_id is None:
            member = await member_by_user(session, chat_id) if chat_id > 0 else None
            group = await group_by_chat(session, chat_id) if chat_id < 0 else None
        else:
            member = await session.get(Member, member_id) if member_id is not None else None
            group = await session.get(Group, group_id) if group_id is not None else None
        for row in (member, group):
            if row is not None and row.active:
                row.active = False
                session.add(row)
        await session.commit()


# ---------------------------------------------------------------- broadcasts

async def broadcast(services: Services, bot, *, kind: str, period: str,
                    scheduled_for: datetime, post: Post, recipients: Iterable[Recipient],
                    late: bool = False) -> Broadcast | None:
    """Send ``post`` to every recipient once for this (kind, period).

    Returns the claimed Broadcast (status ``done``, ``sending`` if some deliveries wait
    for a retry, or ``skipped`` when the post has a skip_reason), or None when the
    period was already claimed, by this process earlier or by another one.
    """
    now = services.now()
    skipped = post.skip_reason is not None
    async with services.db.session() as session:
        claimed = await outbox.claim(
            session, kind=kind, period=period, scheduled_for=scheduled_for,
            payload=post.to_payload(), now=now, late=late,
            status=outbox.SKIPPED if skipped else outbox.SENDING,
        )
        if claimed is None:
            log.info("%s %s already claimed; not sent again", kind, period)
            return None
        if not skipped:
            await outbox.add_deliveries(session, claimed.id, recipients)
        await session.commit()
    if skipped:
        log.info("%s %s skipped: %s (no empty summaries)", kind, period, post.skip_reason)
        return claimed
    await send_pending(services, bot, claimed)
    async with services.db.session() as session:
        return await session.get(Broadcast, claimed.id)


async def send_pending(services: Services, bot, row: Broadcast) -> list[Outcome]:
    """Send every delivery of a broadcast that nobody else is sending; finish it if all done.

    Nothing (``[]``) when this process is sending the broadcast already: a second set of
    workers (the schedule's minute tick during a long fan-out) would only race the first
    for the same leases, doubling the database writes. What those leave pending is
    retried by the next tick after them.
    """
    key = (id(services), row.id)
    if key in _in_hand:
        return []
    _in_hand.add(key)
    try:
        return await _send_pending(services, bot, row)
    finally:
        _in_hand.discard(key)


_in_hand: set[tuple[int, int]] = set()  # (id of the process's Services, broadcast id)


async def _send_pending(services: Services, bot, row: Broadcast) -> list[Outcome]:
    parts = parts_of(Post.from_payload(row.payload))
    async with services.db.session() as session:
        todo = [d.id for d in await outbox.to_send(session, row.id, services.now())]
    queue, outcomes = iter(todo), []

    async def worker() -> None:  # a few workers, not a task per recipient
        for delivery_id in queue:
            outcome = await _attempt(services, bot, delivery_id, parts)
            if outcome is not None:
                outcomes.append(outcome)

    await asyncio.gather(*(worker() for _ in range(min(WORKERS, len(todo)))))
    outcomes.sort(key=lambda o: o.delivery_id)  # in delivery order, as to_send gave them
    async with services.db.session() as session:
        done = await outbox.finish(session, row.id)
    sent = sum(o.status == outbox.SENT for o in outcomes)
    log.info("%s %s: %d of %d sent in this run%s", row.kind, row.period, sent, len(outcomes),
             "; finished" if done else "; some deliveries wait for a retry")
    blocked = [o for o in outcomes if o.status == outbox.BLOCKED]
    if blocked:
        await tell_admins_blocked(services, bot, row.kind, blocked,
                                  key=f"blk:{row.id}:{blocked[0].delivery_id}")
    return outcomes


async def resume_unfinished(services: Services, bot) -> int:
    """Send the still-pending deliveries of interrupted broadcasts; returns how many were sent."""
    async with services.db.session() as session:
        rows = await outbox.unfinished(session)
    sent = 0
    for row in rows:
        outcomes = await send_pending(services, bot, row)
        sent += sum(o.status == outbox.SENT for o in outcomes)
    return sent


# ---------------------------------------------------------------- one-off pushes

async def send_once(services: Services, bot, *, kind: str, key: str, chat_id: int, text: str,
                    markup: InlineKeyboardMarkup | None = None) -> Sent | None:
    """Send ``text`` to ``chat_id`` once for this (kind, key): where it landed, or None.

    None when it was already sent (or is being sent) to that chat, or could not be sent
    now. A transient failure leaves the delivery pending: calling again with the same
    kind and key retries it (so does a call after a crash mid-send, once the attempt's
    lease has expired). A group upgraded to a supergroup gets it at its new id
    (``Sent.chat_id``). ``kind`` ≤ 24 and ``key`` ≤ 32 characters.
    """
    now = services.now()
    async with services.db.session() as session:
        broadcast_id = (await outbox.get_or_create(session, kind=kind, period=key, now=now)).id
        delivery = await outbox.claim_delivery(session, broadcast_id=broadcast_id,
                                               chat_id=chat_id, now=now)
        if delivery is None:
            existing = next((d for d in await outbox.deliveries(session, broadcast_id)
                             if d.chat_id == chat_id), None)
            if existing is None or existing.status not in (outbox.PENDING, outbox.SENDING):
                return None  # sent, blocked or given up
            delivery = await outbox.lease(session, existing.id, now)
            if delivery is None:
                return None
        result = await _send_leased(services, bot, session, delivery, [text], markup)
        if result.status == outbox.SENT:
            sent = await session.get(Delivery, delivery.id, populate_existing=True)
            return Sent(sent.chat_id, sent.message_ids[-1])
    if result.status == outbox.BLOCKED and kind != ADMIN_KIND:
        await tell_admins_blocked(services, bot, kind, [result], key=f"blk:{delivery.id}")
    return None


# ---------------------------------------------------------------- admins

async def active_admins(services: Services) -> list[Member]:
    async with services.db.session() as session:
        query = select(Member).where(Member.role == "admin", col(Member.active).is_(True))
        return list((await session.exec(query.order_by(col(Member.id)))).all())


async def tell_admins(services: Services, bot, text: str, *, key: str) -> int:
    """A notice to every active admin, once per key; returns how many got it."""
    told = 0
    for admin in await active_admins(services):
        if await send_once(services, bot, kind=ADMIN_KIND, key=key,
                           chat_id=admin.telegram_user_id, text=text) is not None:
            told += 1
    return told


async def tell_admins_blocked(services: Services, bot, kind: str, outcomes: list[Outcome], *,
                              key: str) -> int:
    names = []
    async with services.db.session() as session:
        for o in outcomes:
            if o.member_id is not None or o.chat_id > 0:
                member = (await session.get(Member, o.member_id) if o.member_id is not None
                          else await member_by_user(session, o.chat_id))
                org = services.config.organisation(member.org_key) if member else None
                names.append({"group": False,
                              "name": member.first_name if member else str(o.chat_id),
                              "org": org.name if org else (member.org_key if member else "?")})
            else:
                group = (await session.get(Group, o.group_id) if o.group_id is not None
                         else await group_by_chat(session, o.chat_id))
                names.append({"group": True,
                              "name": (group.title or str(o.chat_id)) if group else str(o.chat_id)})
    text = services.render("delivery", "blocked", post_name=est_posts.name_of(kind),
                           recipients=names)
    return await tell_admins(services, bot, text, key=key)
