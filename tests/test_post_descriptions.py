"""est.posts: the scheduled posts described once, and the readers of that description."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.cli import preview as cli_preview
from bot.outbound import posts, schedule
from est import posts as est_posts
from est.config import Schedule, default_config_path, load_config
from est.posts import POSTS, PREVIEWS, Audience, name_of, post_kind, scheduled
from messages.render import Messages

CONFIG = load_config(default_config_path())
TZ = ZoneInfo("Europe/Stockholm")


def test_every_post_is_described_once_with_a_composer_and_a_name():
    kinds = [p.kind for p in POSTS]
    assert kinds == ["lagesbild", "digest", "briefing", "reminder"]
    assert len(set(kinds)) == len(kinds)
    for post in POSTS:
        assert post.setting in Schedule.model_fields
        assert callable(posts.composer_for(post.kind))
        assert post.name and len(post.kind) <= 24
    assert {p.audience for p in POSTS} == set(Audience)
    assert [p.kind for p in PREVIEWS] == ["lagesbild", "digest", "briefing"]


def test_times_come_from_the_schedule_section():
    found = [(p.kind, day, at) for p, day, at in scheduled(Schedule())]
    assert found == [("lagesbild", None, time(8, 0)), ("digest", 3, time(8, 0)),
                     ("briefing", 4, time(19, 0)), ("reminder", 4, time(23, 30)),
                     ("reminder", 5, time(23, 30))]
    changed = Schedule(lagesbild_daily="", thursday_digest="07:15", friday_briefing="",
                       reminders=["thu 21:00"])
    assert [(p.kind, day, at) for p, day, at in scheduled(changed)] == [
        ("digest", 3, time(7, 15)), ("reminder", 3, time(21, 0))]


def test_default_clocks_are_the_configs_defaults():
    assert [p.default_clock() for p in POSTS] == [time(8, 0), time(8, 0), time(19, 0), None]


def test_period_keys():
    moment = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)  # Saturday 00.30 in Stockholm
    assert post_kind("briefing").period(moment, TZ) == "2026-11-28"
    assert post_kind("reminder").period(moment, TZ) == "2026-11-28 00:30"


def test_names_of_posts_and_pushes():
    assert name_of("briefing") == "fredagens utsättning"
    assert name_of("reminder") == "påminnelsen"
    assert name_of("level") == name_of("level_field") == "nivåändringen"
    assert name_of("urgent") == "ett brådskande larm"
    assert name_of("admin") is None
    with pytest.raises(ValueError, match="unknown scheduled post"):
        post_kind("level")


# ---------------------------------------------------------------- the readers

def test_the_scheduler_plans_what_the_description_says():
    assert [p.name for p in schedule.plans(CONFIG)] == [
        "lagesbild daily 08:00", "digest thu 08:00", "briefing fri 19:00",
        "reminder fri 23:30", "reminder sat 23:30"]
    assert all(p.post is post_kind(p.kind) for p in schedule.plans(CONFIG))


def test_the_preview_offers_the_described_posts_at_their_clocks():
    assert cli_preview.KINDS == tuple(p.kind for p in PREVIEWS)
    off = CONFIG.model_copy(update={"schedule": CONFIG.schedule.model_copy(
        update={"friday_briefing": None, "thursday_digest": "07:15"})})
    day = date(2026, 11, 27)
    assert cli_preview.scheduled_moment(off, "briefing", day) == datetime(
        2026, 11, 27, 18, 0, tzinfo=UTC)  # switched off: the default 19.00
    assert cli_preview.scheduled_moment(off, "digest", day) == datetime(
        2026, 11, 27, 6, 15, tzinfo=UTC)


async def test_compose_uses_the_composer_of_the_description(monkeypatch):
    async def fake(services, now):
        return posts.Post(texts=[f"påminnelse {now:%H:%M}"])

    monkeypatch.setattr(posts, est_posts.REMINDER.composer, fake)
    post = await posts.compose("reminder", None, datetime(2026, 11, 27, 22, 30, tzinfo=UTC))
    assert post.texts == ["påminnelse 22:30"]


def test_admin_notices_name_the_post_from_the_description():
    messages = Messages(TZ)
    at = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)
    stale = messages.render("delivery", "stale", post_name=name_of("reminder"),
                            scheduled_for=at, grace_minutes=120)
    assert "när påminnelsen skulle skickas" in stale and "23:30" in stale
    blocked = messages.render("delivery", "blocked", post_name=name_of("admin"),
                              recipients=[{"group": True, "name": "Fältgruppen"}])
    assert "mottagare av ett utskick:" in blocked
