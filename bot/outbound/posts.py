"""What the scheduled posts say: the content half of the content/delivery contract.

Every ``compose_*`` function takes the services and ``now``, the moment the post is
scheduled for (timezone-aware), reads the database and returns a ``Post``: ready-to-send
HTML texts (each at most ``TEXT_LIMIT`` characters, which leaves room for the late
marker below) and PNG images (captions at most 1024 characters). Nothing is sent here;
``bot.outbound.delivery`` sends a Post and stores it (``Post.to_payload``) when it claims a
broadcast, so a resumed run sends exactly the same thing (``Post.from_payload``).

- ``compose_daily``: the samlad lägesbild for coordinator groups (förmedlade reports
  only); ``skip_reason`` is set when no report came in during the 24 hours before
  ``now`` and every area is grönt ("no empty summaries").
- ``compose_digest``: the Thursday agenda, one section per point, plus two PNGs: the
  area × week level matrix and this week's hotspots.
- ``compose_briefing``: the Friday utsättning for field members and briefing groups;
  aggregated counts only, never free text or names.
- ``compose_reminder``: the gentle "även lugnt räknas – /lugnt" nudge.

Which composer makes which post is part of the post's description (est.posts.POSTS,
``composer``); ``compose(kind, services, now)`` looks it up.

Late runs: ``mark_late(services, post, scheduled_for)`` returns a copy whose first text
starts with "⏰ Försenat utskick – planerat till <dag> kl. <HH:MM>." (template
``digest.late_marker``). The delivery side calls it (after composing, before storing the
payload) when it sends a missed run within the grace period. ``TEXT_LIMIT`` keeps every
text 196 characters below Telegram's 4096, so the marked text still fits.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dialogs.paging import pack_pages
from est import briefing as est_briefing
from est import digest as est_digest
from est import posts as est_posts
from est.analysis import rules_for
from est.digest import AGENDA, LevelChange, LevelMatrix, level_matrix_from_counts, matrix_bounds
from est.lagesbild import (
    HISTORY_WEEKS,
    UPCOMING,
    LevelInfo,
    Picture,
    compose_picture_from_tallies,
    window_end,
)
from est.levels import Level
from est.report_draft import FORMEDLAD
from est.visibility import free_text_allowed
from storage.agenda import agenda_entries
from storage.facts import picture_tallies, recent_facts, report_tallies
from storage.levels import latest_checklist_strength
from storage.models import AreaLevel, Report
from storage.picture import open_insatser, upcoming_events

TEXT_LIMIT = 3900  # Telegram allows 4096; the rest is room for the late marker
CAPTION_LIMIT = 1024


@dataclass(frozen=True)
class Image:
    filename: str
    png: bytes
    caption: str  # ≤ 1024 characters, HTML like the texts


@dataclass(frozen=True)
class Post:
    texts: list[str]
    images: list[Image] = field(default_factory=list)
    skip_reason: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-friendly form for Broadcast.payload (PNG bytes as base64)."""
        return {
            "texts": list(self.texts),
            "images": [
                {"filename": i.filename, "caption": i.caption,
                 "png": base64.b64encode(i.png).decode("ascii")}
                for i in self.images
            ],
            "skip_reason": self.skip_reason,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Post:
        return cls(
            texts=list(payload.get("texts") or []),
            images=[Image(filename=i["filename"], caption=i.get("caption", ""),
                          png=base64.b64decode(i["png"]))
                    for i in payload.get("images") or []],
            skip_reason=payload.get("skip_reason"),
        )


def mark_late(services, post: Post, scheduled_for: datetime) -> Post:
    """The same post, its first text prefixed with "⏰ Försenat utskick – planerat till …"."""
    if not post.texts:
        return post
    marker = services.render("digest", "late_marker", scheduled_for=scheduled_for)
    return replace(post, texts=[f"{marker}\n\n{post.texts[0]}", *post.texts[1:]])


# ---------------------------------------------------------------- shared reads

DAILY_WINDOW = timedelta(hours=24)


async def _level_history(session: AsyncSession, now: datetime
                         ) -> tuple[list[LevelChange], dict[str, LevelInfo]]:
    """Every level change up to ``now``, and each area's level as it stood at ``now``.

    Read as of ``now`` (not "the newest row") so a preview of a past date is right. The
    infos carry no name of who set the level: the posts name no one.
    """
    rows = await session.exec(select(AreaLevel).where(col(AreaLevel.set_at) <= now)
                              .order_by(col(AreaLevel.set_at), col(AreaLevel.id)))
    changes, infos = [], {}
    for row in rows:
        level = Level(row.level)
        changes.append(LevelChange(row.area_key, level, row.set_at))
        infos[row.area_key] = LevelInfo(level=level, reason=row.reason, set_at=row.set_at)
    return changes, infos


def _pages(header: str, continued: str, blocks: list[str], marker: str) -> list[str]:
    return pack_pages(header, continued, blocks, marker, limit=TEXT_LIMIT)


# ---------------------------------------------------------------- daily lägesbild

async def _shared_reports_received(session: AsyncSession, since: datetime,
                                   until: datetime) -> int:
    query = select(func.count()).select_from(Report).where(
        col(Report.received_at) > since, col(Report.received_at) <= until,
        col(Report.withdrawn_at).is_(None), Report.sharing == FORMEDLAD,
    )
    return int((await session.exec(query)).one())


def daily_pages(services, picture: Picture) -> list[str]:
    render = services.render
    header = render("lagesbild", "header", p=picture, in_group=True)
    continued = render("lagesbild", "continued", p=picture)
    blocks = [render("lagesbild", "area", a=area, p=picture) for area in picture.areas]
    return _pages(header, continued, blocks, render("lagesbild", "truncated"))


async def compose_daily(services, now: datetime) -> Post:
    """The samlad lägesbild for coordinator groups: förmedlade reports only.

    Skipped ("no empty summaries") when no förmedlad report was received in the 24 hours
    before ``now`` and every area is grönt.
    """
    config = services.config
    async with services.db.session() as session:
        tallies, texts = await picture_tallies(session, config, now=now, in_group=True,
                                               with_texts=free_text_allowed(True, config))
        events = await upcoming_events(session, since=now, until=now + UPCOMING)
        insatser = await open_insatser(session, now=now)
        _, levels = await _level_history(session, now)
        received = await _shared_reports_received(session, now - DAILY_WINDOW, now)
    picture = compose_picture_from_tallies(config, tallies, levels, events, insatser, now,
                                           in_group=True, free_texts=texts)
    if received == 0 and all(area.level == Level.GRON for area in picture.areas):
        return Post(texts=[], skip_reason=services.render("digest", "daily_skipped"))
    return Post(texts=daily_pages(services, picture))


# ---------------------------------------------------------------- Thursday digest

async def digest_inputs(services, now: datetime):
    """The digest, the level matrix and the hotspot bars as plain data (one session).

    The reports are counted in SQL (förmedlade only); single reports are read only for
    the suggestion's few days, whose recency is per report.
    """
    config = services.config
    bounds = matrix_bounds(config, now)
    async with services.db.session() as session:
        # No single report: the digest shows none (its picture's notable list stays empty).
        tallies = await report_tallies(session, config, end=window_end(now),
                                       weeks=HISTORY_WEEKS, kind_weeks=2, in_group=True,
                                       columns=bounds, with_notable=False)
        recent = await recent_facts(
            session, config, after=now - timedelta(days=rules_for(config).window_days),
            until=now, in_group=True)
        changes, levels = await _level_history(session, now)
        events = await upcoming_events(session, since=now, until=now + UPCOMING)
        insatser = await open_insatser(session, now=now)
        agenda = await agenda_entries(session, at=now)
        strengths = {}
        for area in config.areas:
            strength = await latest_checklist_strength(session, area.key)
            if strength is not None:
                strengths[area.key] = strength
    digest = est_digest.compose_digest_from_tallies(config, tallies, recent, levels, events,
                                                    insatser, agenda, now, strengths)
    matrix = level_matrix_from_counts(config, changes, tallies.column_counts, now)
    bars = est_digest.hotspot_bars(digest.picture)
    return digest, matrix, bars


def digest_pages(services, digest: est_digest.Digest) -> list[str]:
    """The seven points as messages, split between points (a point never splits a page
    unless it alone is too long)."""
    render = services.render
    kinds = {number: kind for kind, number in est_digest.AGENDA_KINDS.items()}
    blocks = []
    for point in AGENDA:
        if point.number in kinds:
            items = digest.items(kinds[point.number])
            blocks.append(render("digest", "flagged", point=point, items=items))
        else:
            blocks.append(render("digest", f"point{point.number}", point=point, d=digest))
    blocks[-1] = f"{blocks[-1]}\n\n{render('digest', 'footer')}"
    return _pages(render("digest", "header", d=digest),
                  render("digest", "continued", d=digest), blocks,
                  render("digest", "truncated"))


async def _digest_images(services, digest: est_digest.Digest, matrix: LevelMatrix,
                         bars: list[est_digest.HotspotBar]) -> list[Image]:
    """Both PNGs; matplotlib runs in a worker thread so the event loop never waits on it."""
    from est import charts  # matplotlib is loaded on the first digest, not at start

    render = services.render
    day = digest.generated_at.astimezone(services.config.tz).date().isoformat()
    matrix_png = await asyncio.to_thread(
        charts.render_level_matrix, matrix, render("digest", "matrix_title"),
        render("digest", "matrix_subtitle"))
    images = [Image(filename=f"lagesbild-veckor-{day}.png", png=matrix_png,
                    caption=render("digest", "matrix_caption", d=digest,
                                   weeks=len(matrix.week_starts)))]
    if bars:
        subtitle = render("digest", "hotspot_subtitle",
                          threshold=services.config.analysis.hotspot_threshold)
        hotspot_png = await asyncio.to_thread(
            charts.render_hotspots, bars, render("digest", "hotspot_title"), subtitle)
        images.append(Image(filename=f"hotspots-{day}.png", png=hotspot_png,
                            caption=render("digest", "hotspot_caption", d=digest)))
    return images


async def compose_digest(services, now: datetime) -> Post:
    """The Thursday agenda in seven points, with the week matrix and the hotspot chart.

    No hotspot picture when there are no hotspots; point 3 then says "Inga hotspots".
    """
    digest, matrix, bars = await digest_inputs(services, now)
    images = await _digest_images(services, digest, matrix, bars)
    return Post(texts=digest_pages(services, digest), images=images)


# ---------------------------------------------------------------- Friday briefing

async def briefing_data(services, now: datetime) -> est_briefing.Briefing:
    config = services.config
    async with services.db.session() as session:
        # Förmedlade reports counted in SQL: this week and the four before (hotspot
        # trends; the week before is also "since last Friday").
        tallies = await report_tallies(session, config, end=window_end(now),
                                       weeks=HISTORY_WEEKS, in_group=True,
                                       with_notable=False, with_orgs=False)
        changes, _ = await _level_history(session, now)
        events = await upcoming_events(session, since=now,
                                       until=est_briefing.weekend_end(config, now))
    return est_briefing.compose_briefing_from_tallies(config, tallies, changes, events, now)


async def compose_briefing(services, now: datetime) -> Post:
    """The Friday utsättning: levels, where to look this weekend, changes, advice."""
    briefing = await briefing_data(services, now)
    return Post(texts=[services.render("briefing", "briefing", b=briefing)])


async def compose_reminder(services, now: datetime) -> Post:
    """The evening nudge to briefed field members who have sent nothing yet."""
    return Post(texts=[services.render("briefing", "reminder")])


# ---------------------------------------------------------------- the composers of est.posts

Composer = Callable[[Any, datetime], Awaitable[Post]]


def composer_for(kind: str) -> Composer:
    """The compose function of a scheduled post (est.posts.PostKind.composer).

    Looked up when called, so a test that replaces ``bot.outbound.posts.compose_daily`` is heard.
    """
    return globals()[est_posts.post_kind(kind).composer]


async def compose(kind: str, services, now: datetime) -> Post:
    """Compose the scheduled post ``kind`` as of ``now``."""
    return await composer_for(kind)(services, now)


_missing = [p.composer for p in est_posts.POSTS if not callable(globals().get(p.composer))]
if _missing:  # pragma: no cover - a wiring mistake, caught at import
    raise ImportError(f"bot.outbound.posts has no composer {', '.join(_missing)}")


__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "Image",
    "Post",
    "briefing_data",
    "compose",
    "compose_briefing",
    "compose_daily",
    "compose_digest",
    "compose_reminder",
    "composer_for",
    "daily_pages",
    "digest_inputs",
    "digest_pages",
    "mark_late",
]
