"""The weekly rhythm: calendar triggers in local time, once per period, catch-up after a stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import select

from bot.outbound import schedule
from bot.outbound.schedule import Plan, catch_up, next_occurrences, previous_occurrence
from storage import outbox
from storage.members import group_by_chat, member_by_user
from storage.models import Broadcast, Delivery, Member
from tests.conftest import make_admin, registered
from tests.utils.harness import BotUnderTest

ADMIN = 6000
BRIEFING_GROUP, COORDINATOR_GROUP = -5101, -5102
FRIDAY_1900 = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 19.00 in Stockholm (CET)
BRIEFING_JOB = "briefing fri 19:00"
REMINDER = "Inga rapporter från dig i kväll"
LATE = "Försenat utskick"
STALE = "Boten var nere"


def only(config, **schedule_changes):
    """The bundled config with some schedules changed (None: off)."""
    off = {"lagesbild_daily": None, "thursday_digest": None, "friday_briefing": None,
           "reminders": []}
    return config.model_copy(
        update={"schedule": config.schedule.model_copy(update={**off, **schedule_changes})})


def texts(fake, chat_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in fake.bot_messages(chat_id)]


def count(fake, chat_id: int, needle: str) -> int:
    return sum(needle in t for t in texts(fake, chat_id))


def briefings(fake, chat_id: int) -> int:
    return count(fake, chat_id, "Utsättning – ")


async def register_group(bot, fake, chat_id: int, command: str) -> None:
    fake.user(ADMIN, "Admin")
    fake.create_group(chat_id, f"Grupp {chat_id}")
    fake.add_bot_to_group(chat_id, ADMIN)
    await bot.settle()
    fake.send_text(ADMIN, command, chat_id=chat_id)
    await bot.settle()


async def set_member(bot, user_id: int, **values) -> None:
    async with bot.services.db.session() as session:
        member = await member_by_user(session, user_id)
        for key, value in values.items():
            setattr(member, key, value)
        session.add(member)
        await session.commit()


async def crew(bot, fake):
    """Admin, three field members (one paused, one inactive), a coordinator, two groups."""
    await make_admin(bot, ADMIN)
    fake.user(ADMIN, "Admin")
    fake.send_text(ADMIN, "/start")
    anna = await registered(bot, 6101, "Anna")
    bert = await registered(bot, 6102, "Bert")
    cilla = await registered(bot, 6103, "Cilla", org_key="faltgruppen")
    dora = await registered(bot, 6104, "Dora", role="coordinator", org_key="polisen")
    await bert.send("/paus")
    await set_member(bot, 6103, active=False)
    await register_group(bot, fake, BRIEFING_GROUP, "/registrera_grupp utsattning")
    await register_group(bot, fake, COORDINATOR_GROUP, "/registrera_grupp")
    return anna, bert, cilla, dora


def job(bot, name: str):
    [found] = bot.application.job_queue.get_jobs_by_name(name)
    return found


async def broadcasts(bot, kind: str) -> list[Broadcast]:
    async with bot.services.db.session() as session:
        return list((await session.exec(
            select(Broadcast).where(Broadcast.kind == kind).order_by(Broadcast.id))).all())


@pytest.fixture
async def start_bot(fake, database_url, clock):
    """Start another bot process (other config, or a second process on the same database)."""
    started = []

    async def start(config, clock_=None) -> BotUnderTest:
        runner = BotUnderTest(fake, database_url, config, clock_ or clock)
        await runner.start()
        started.append(runner)
        return runner

    yield start
    for runner in started:
        await runner.stop()


# ---------------------------------------------------------------- triggers

@pytest.mark.parametrize(("start", "expected"), [
    (datetime(2026, 3, 27, 6, 0, tzinfo=UTC), datetime(2026, 3, 27, 18, 0, tzinfo=UTC)),
    (datetime(2026, 3, 28, 6, 0, tzinfo=UTC), datetime(2026, 4, 3, 17, 0, tzinfo=UTC)),
    (datetime(2026, 10, 23, 6, 0, tzinfo=UTC), datetime(2026, 10, 23, 17, 0, tzinfo=UTC)),
    (datetime(2026, 10, 24, 6, 0, tzinfo=UTC), datetime(2026, 10, 30, 18, 0, tzinfo=UTC)),
])
def test_briefing_trigger_is_1900_local_on_both_sides_of_dst(config, start, expected):
    plan = Plan("briefing", time(19, 0), schedule.FRIDAY)
    [fire] = next_occurrences(plan, config.tz, start, 1)
    assert fire == expected
    assert fire.astimezone(config.tz).strftime("%a %H:%M") == "Fri 19:00"


def test_a_series_of_fridays_across_both_dst_changes(config):
    plan = Plan("briefing", time(19, 0), schedule.FRIDAY)
    fires = next_occurrences(plan, config.tz, datetime(2026, 3, 20, 19, 0, tzinfo=UTC), 2)
    fires += next_occurrences(plan, config.tz, datetime(2026, 10, 17, 0, 0, tzinfo=UTC), 2)
    assert [f.astimezone(UTC).strftime("%m-%d %H:%MZ") for f in fires] == [
        "03-27 18:00Z", "04-03 17:00Z", "10-23 17:00Z", "10-30 18:00Z"]


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 3, 27, 12, 0, tzinfo=UTC), datetime(2026, 3, 27, 18, 0, tzinfo=UTC)),
    (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 4, 3, 17, 0, tzinfo=UTC)),
    (datetime(2026, 10, 23, 12, 0, tzinfo=UTC), datetime(2026, 10, 23, 17, 0, tzinfo=UTC)),
    (datetime(2026, 10, 24, 12, 0, tzinfo=UTC), datetime(2026, 10, 30, 18, 0, tzinfo=UTC)),
])
async def test_the_job_queue_schedules_the_briefing_at_1900_local(start_bot, config, now,
                                                                  expected):
    with time_machine.travel(now, tick=False):
        bot = await start_bot(config)
        briefing = job(bot, BRIEFING_JOB)
        assert isinstance(briefing.job.trigger, CronTrigger)
        assert briefing.next_t == expected
        assert job(bot, "digest thu 08:00").next_t.astimezone(config.tz).hour == 8
        assert job(bot, "lagesbild daily 08:00").next_t.astimezone(config.tz).hour == 8
        assert {j.name for j in bot.application.job_queue.jobs()} >= {
            "reminder fri 23:30", "reminder sat 23:30", "utskick-kontroll"}


async def test_a_schedule_switched_off_has_no_job(start_bot, config):
    bot = await start_bot(only(config, friday_briefing="18:30"))
    names = {j.name for j in bot.application.job_queue.jobs()}
    assert "briefing fri 18:30" in names
    assert not any(n.startswith(("lagesbild", "digest", "reminder")) for n in names)


def test_previous_occurrence_and_period_keys(config):
    tz = config.tz
    briefing = Plan("briefing", time(19, 0), schedule.FRIDAY)
    assert previous_occurrence(briefing, tz, FRIDAY_1900) == FRIDAY_1900
    assert previous_occurrence(briefing, tz, FRIDAY_1900 - timedelta(seconds=1)) == (
        FRIDAY_1900 - timedelta(days=7))
    assert briefing.period(FRIDAY_1900, tz) == "2026-11-27"
    reminder = Plan("reminder", time(0, 30), 5)
    assert reminder.period(datetime(2026, 11, 27, 23, 30, tzinfo=UTC), tz) == "2026-11-28 00:30"
    # A reminder after midnight belongs to the evening before.
    assert schedule.evening_start(datetime(2026, 11, 27, 23, 30, tzinfo=UTC), tz) == (
        datetime(2026, 11, 27, 17, 0, tzinfo=UTC))


# ---------------------------------------------------------------- the briefing

async def test_briefing_job_reaches_each_active_field_member_and_briefing_group_once(
        bot, fake, clock):
    await crew(bot, fake)
    clock.now = FRIDAY_1900
    await job(bot, BRIEFING_JOB).run(bot.application)
    assert briefings(fake, 6101) == 1  # Anna
    assert briefings(fake, BRIEFING_GROUP) == 1
    for silent in (6102, 6103, 6104, COORDINATOR_GROUP):  # paused, inactive, coordinator
        assert briefings(fake, silent) == 0, silent
    # The trigger again, the safety tick, a restart's catch-up: nothing more.
    await job(bot, BRIEFING_JOB).run(bot.application)
    await catch_up(bot.application)
    await bot.restart()
    await catch_up(bot.application)
    assert briefings(fake, 6101) == 1 and briefings(fake, BRIEFING_GROUP) == 1
    [row] = await broadcasts(bot, "briefing")
    assert (row.period, row.status, row.late) == ("2026-11-27", outbox.DONE, False)
    assert LATE not in fake.last_bot_message(6101)["text"]


async def test_two_processes_firing_at_1900_send_one_briefing(bot, fake, clock, config,
                                                              start_bot):
    await crew(bot, fake)
    for uid in range(6110, 6120):
        await registered(bot, uid, f"F{uid}")
    other = await start_bot(config)
    clock.now = FRIDAY_1900
    await asyncio.gather(job(bot, BRIEFING_JOB).run(bot.application),
                         job(other, BRIEFING_JOB).run(other.application))
    await asyncio.gather(catch_up(bot.application), catch_up(other.application))
    for chat_id in [6101, BRIEFING_GROUP, *range(6110, 6120)]:
        assert briefings(fake, chat_id) == 1, chat_id
    assert len(await broadcasts(bot, "briefing")) == 1


async def test_a_missed_briefing_within_the_grace_is_sent_late_and_marked(bot, fake, clock,
                                                                          config, start_bot):
    await crew(bot, fake)
    clock.now = FRIDAY_1900 + timedelta(minutes=45)  # the bot was down at 19.00
    restarted = await start_bot(only(config, friday_briefing="19:00"))
    assert await catch_up(restarted.application) == {BRIEFING_JOB: "late"}
    assert briefings(fake, 6101) == 1 and briefings(fake, BRIEFING_GROUP) == 1
    assert fake.last_bot_message(6101)["text"].startswith(f"⏰ {LATE} – planerat till fredag")
    [row] = await broadcasts(restarted, "briefing")
    assert row.late and row.status == outbox.DONE and row.scheduled_for == FRIDAY_1900
    assert count(fake, ADMIN, STALE) == 0


async def test_a_missed_briefing_beyond_the_grace_is_reported_to_the_admins(bot, fake, clock,
                                                                            config, start_bot):
    await crew(bot, fake)
    clock.now = FRIDAY_1900 + timedelta(hours=2, minutes=30)
    restarted = await start_bot(only(config, friday_briefing="19:00"))
    assert await catch_up(restarted.application) == {BRIEFING_JOB: "stale"}
    assert briefings(fake, 6101) == 0 and briefings(fake, BRIEFING_GROUP) == 0
    notice = fake.last_bot_message(ADMIN)["text"]
    assert STALE in notice and "fredagens utsättning" in notice and "19:00" in notice
    assert await catch_up(restarted.application) == {BRIEFING_JOB: "claimed"}
    assert count(fake, ADMIN, STALE) == 1
    [row] = await broadcasts(restarted, "briefing")
    assert row.status == outbox.STALE


async def test_a_new_deployment_is_not_told_about_runs_before_it_existed(fake, clock, config,
                                                                         start_bot):
    clock.now = FRIDAY_1900 + timedelta(hours=5)
    bot = await start_bot(only(config, friday_briefing="19:00"))
    await make_admin(bot, ADMIN)
    assert await catch_up(bot.application) == {BRIEFING_JOB: "none"}
    assert await broadcasts(bot, "briefing") == []


async def test_the_whole_bot_sends_the_briefing_when_the_clock_reaches_1900(fake, config,
                                                                            start_bot):
    """The real JobQueue fires the cron trigger; the system clock is moved, not mocked away."""
    start = FRIDAY_1900 - timedelta(minutes=1)
    with time_machine.travel(start, tick=True) as traveller:
        bot = await start_bot(only(config, friday_briefing="19:00"),
                              lambda: datetime.now(UTC))
        await registered(bot, 6201, "Anna")
        traveller.move_to(FRIDAY_1900 - timedelta(seconds=0.3))
        bot.application.job_queue.scheduler.wakeup()
        for _ in range(200):  # wait for the condition (at most ~10 s), not for a time
            if briefings(fake, 6201):
                break
            await asyncio.sleep(0.05)
        assert briefings(fake, 6201) == 1
        [row] = await broadcasts(bot, "briefing")
        started = row.created_at - FRIDAY_1900
        assert timedelta(0) <= started < timedelta(seconds=30) and not row.late
        await catch_up(bot.application)
        assert briefings(fake, 6201) == 1


# ---------------------------------------------------------------- reminders

async def test_reminder_goes_only_to_briefed_members_without_a_report_that_evening(
        bot, fake, clock):
    await make_admin(bot, ADMIN)
    anna = await registered(bot, 6301, "Anna")
    bert = await registered(bot, 6302, "Bert")
    cilla = await registered(bot, 6303, "Cilla")
    david = await registered(bot, 6304, "David")
    clock.now = FRIDAY_1900 - timedelta(hours=2)  # 17.00: before the evening
    await cilla.send("/lugnt")
    await cilla.click("Vivalla")
    clock.now = FRIDAY_1900
    await job(bot, BRIEFING_JOB).run(bot.application)
    assert all(briefings(fake, uid) == 1 for uid in (6301, 6302, 6303, 6304))
    await registered(bot, 6305, "Erik")  # joined after the briefing: not briefed
    clock.now = FRIDAY_1900 + timedelta(hours=1, minutes=30)
    await anna.send("/lugnt")
    await anna.click("Vivalla")
    await david.send("/paus")
    clock.now = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)  # Friday 23.30
    await job(bot, "reminder fri 23:30").run(bot.application)
    got = {uid for uid in range(6301, 6306) if count(fake, uid, REMINDER)}
    assert got == {6302, 6303}  # Bert, and Cilla whose report was before 18.00
    await job(bot, "reminder fri 23:30").run(bot.application)
    assert count(fake, 6302, REMINDER) == 1
    clock.now = datetime(2026, 11, 28, 22, 30, tzinfo=UTC)  # Saturday 23.30
    await bert.send("/rapport")  # an open dialog is not a report
    await job(bot, "reminder sat 23:30").run(bot.application)
    assert {uid for uid in range(6301, 6306) if count(fake, uid, REMINDER) == 2} == {6302, 6303}
    assert count(fake, 6301, REMINDER) == 1  # Anna's report was Friday's
    assert count(fake, 6304, REMINDER) == 0 and count(fake, 6305, REMINDER) == 0


# ---------------------------------------------------------------- the daily post and digest

async def test_the_daily_post_is_skipped_when_nothing_happened(bot, fake, clock, caplog):
    await make_admin(bot, ADMIN)
    await register_group(bot, fake, COORDINATOR_GROUP, "/registrera_grupp")
    before = len(fake.bot_messages(COORDINATOR_GROUP))
    clock.now = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 08.00
    with caplog.at_level("INFO"):
        await job(bot, "lagesbild daily 08:00").run(bot.application)
    assert len(fake.bot_messages(COORDINATOR_GROUP)) == before
    [row] = await broadcasts(bot, "lagesbild")
    assert row.status == outbox.SKIPPED and row.period == "2026-11-27"
    assert "no empty summaries" in caplog.text


async def test_daily_post_and_digest_go_to_coordinator_groups_only(bot, fake, clock,
                                                                   monkeypatch):
    from bot.outbound import posts

    async def daily(services, now):
        return posts.Post(texts=["Lägesbild i dag"])

    async def digest(services, now):
        return posts.Post(texts=["Dagordning"], images=[posts.Image(
            "matris.png", b"\x89PNG\r\n\x1a\n0000", "Nivåer vecka för vecka")])

    monkeypatch.setattr(posts, "compose_daily", daily)
    monkeypatch.setattr(posts, "compose_digest", digest)
    await crew(bot, fake)
    clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)  # Thursday 08.00
    await asyncio.gather(job(bot, "lagesbild daily 08:00").run(bot.application),
                         job(bot, "digest thu 08:00").run(bot.application))
    assert count(fake, COORDINATOR_GROUP, "Lägesbild i dag") == 1
    assert count(fake, COORDINATOR_GROUP, "Dagordning") == 1
    assert count(fake, COORDINATOR_GROUP, "Nivåer vecka för vecka") == 1
    for chat_id in (BRIEFING_GROUP, 6101, 6104):
        assert count(fake, chat_id, "Dagordning") + count(fake, chat_id, "Lägesbild i dag") == 0


# ---------------------------------------------------------------- briefing groups

async def test_registering_briefing_and_coordinator_groups(bot, fake):
    await make_admin(bot, ADMIN)
    await register_group(bot, fake, -5201, "/registrera_grupp utsattning")
    assert "utsättningsgrupp" in fake.last_bot_message(-5201)["text"]
    await register_group(bot, fake, -5202, "/registrera_grupp")
    assert "samordningsgrupp" in fake.last_bot_message(-5202)["text"]
    await register_group(bot, fake, -5203, "/registrera_grupp något")
    assert "Okänd grupptyp" in fake.last_bot_message(-5203)["text"]
    fake.send_text(ADMIN, "/registrera_grupp utsättning", chat_id=-5202)  # switch kind
    await bot.settle()
    async with bot.services.db.session() as session:
        kinds = [(await group_by_chat(session, c)) for c in (-5201, -5202, -5203)]
    assert [g.kind if g else None for g in kinds] == ["briefing", "briefing", None]


async def test_paused_members_and_inactive_groups_are_left_out(bot, fake, clock):
    await crew(bot, fake)
    async with bot.services.db.session() as session:
        group = await group_by_chat(session, BRIEFING_GROUP)
        group.active = False
        session.add(group)
        await session.commit()
    clock.now = FRIDAY_1900
    await job(bot, BRIEFING_JOB).run(bot.application)
    async with bot.services.db.session() as session:
        chats = set((await session.exec(select(Delivery.chat_id))).all())
        members = (await session.exec(select(Member).where(Member.paused))).all()
    assert chats == {6101}
    assert [m.telegram_user_id for m in members] == [6102]
