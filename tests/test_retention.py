"""Gallring (issue 8, section 2): every kind of data goes after its period, never silently.

The clock is always given: reports come in at MOMENT and the purge runs at chosen moments
after it, so the tests move through three years without waiting.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select, update

from bot.outbound import purge as nightly
from est import retention as rules
from est.analysis import ReportFact
from est.config import ConfigError, default_config_path, parse_config
from est.report_draft import ReportDraft
from est.retention import (
    ALL_CATEGORIES,
    AUDIT,
    DELIVERIES,
    DIALOG_DATA,
    DIALOGS,
    ENDED_MEMBERS,
    INBOX,
    KIND_KEYS,
    REPORT_TEXT,
    REPORTER_LINK,
    REPORTS,
    HoldProblem,
)
from storage import audit
from storage import retention as store
from storage.db import Database
from storage.members import add_member
from storage.models import (
    AuditEvent,
    Broadcast,
    Delivery,
    Dialog,
    InboxUpdate,
    Member,
    Report,
    ReportCategory,
    WeeklyAggregate,
    metadata,
)
from storage.reports import open_draft, submit_draft
from storage.retention import WeekCount
from tests.conftest import file_report, make_admin, registered

MOMENT = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)  # when the seeded reports came in
SUNDAY_LATE = datetime(2026, 3, 29, 21, 30, tzinfo=UTC)  # Sun 23:30 CEST: week of 23 March
MONDAY_EARLY = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)  # Mon 00:30 CEST: week of 30 March
TUESDAY = datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
WEEKS = dict(first_week=date(2026, 3, 23), last_week=date(2026, 3, 30))
DAY, HOUR = timedelta(days=1), timedelta(hours=1)
PEOPLE = {7001: ("Anna", "nattvandrarna"), 7002: ("Bosse", "polisen")}

# name: (reporter, area, place, occurred, categories, severity, people, text, withdrawn)
SPECS = {
    "sunday": (7001, "vivalla", "viv_skola", SUNDAY_LATE, ["skadegorelse", "samling"], 3,
               "3-5", "Stenar vid porten", False),
    "monday": (7002, "vivalla", "viv_centrum", MONDAY_EARLY, ["stenkastning"], 4, "1-2",
               "Sten mot bussen", False),
    "calm": (7001, "oxhagen", "oxh_centrum", TUESDAY, ["lugnt"], None, None, None, False),
    "withdrawn": (7002, "centrum", "cen_stortorget", TUESDAY, ["skadegorelse"], 2, "1-2",
                  "Fel rapport", True),
}


@pytest.fixture
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


def after(days: float, *, hours: float = 1) -> datetime:
    """``days`` after the reports came in, plus a margin of ``hours``."""
    return MOMENT + timedelta(days=days, hours=hours)


async def seed(db: Database, specs: dict = SPECS, at: datetime = MOMENT) -> dict[str, int]:
    """The reporters and their reports (through the real submit path); name → report id."""
    ids = {}
    async with db.session() as session:
        members = {}
        for user_id, (name, org) in PEOPLE.items():
            members[user_id] = await add_member(session, telegram_user_id=user_id,
                                                first_name=name, role="reporter", org_key=org,
                                                now=at)
        for key, (user_id, area, place, occurred, categories, severity, people, text,
                  withdrawn) in specs.items():
            data = ReportDraft(area=area, place_key=place, categories=categories,
                               occurred_at=occurred.isoformat(), severity=severity,
                               people=people, text=text)
            draft = await open_draft(session, member_id=members[user_id].id, chat_id=user_id,
                                     step="summary", data=data.to_json(), now=at)
            report = await submit_draft(session, draft, members[user_id], now=at, year=2026)
            if withdrawn:
                report.withdrawn_at = at
                session.add(report)
            ids[key] = report.id
        await session.commit()
    return ids


async def seed_everything(db: Database, at: datetime = MOMENT) -> dict[str, int]:
    """Reports plus one of every other kind of data: due and not due."""
    ids = await seed(db, at=at)
    async with db.session() as session:
        anna = (await session.exec(select(Member).where(Member.telegram_user_id == 7001))
                ).scalars().one()
        await open_draft(session, member_id=anna.id, chat_id=7001, step="area", data={},
                         now=at)  # abandoned
        broadcast = Broadcast(kind="briefing", period="2026-04-03", scheduled_for=at,
                              created_at=at, status="done")
        session.add(broadcast)
        await session.flush()
        session.add_all([
            Delivery(broadcast_id=broadcast.id, chat_id=7001, member_id=anna.id,
                     status="sent", attempts=1, message_ids=[5], sent_at=at),
            Delivery(broadcast_id=broadcast.id, chat_id=7002, status="pending"),  # stays
            InboxUpdate(update_id=11, payload=None, received_at=at, done_at=at),
            InboxUpdate(update_id=12, payload={"update_id": 12}, received_at=at),  # unhandled
        ])
        await session.exec(update(Member).where(Member.telegram_user_id == 7002)
                           .values(ended_at=at, active=False, paused=True,
                                   feedback_opt_out=True))
        await audit.record(session, "member.ended", now=at, actor=audit.SHELL,
                           object_kind="member", object_id=2, details={"role": "reporter"})
        await session.commit()
    return ids


async def reports(db: Database) -> dict[int, Report]:
    async with db.session() as session:
        return {r.id: r for r in (await session.exec(select(Report))).scalars()}


async def count(db: Database, model) -> int:
    async with db.session() as session:
        return (await session.exec(select(func.count()).select_from(model))).scalar_one()


async def picture(db: Database, config) -> dict:
    async with db.session() as session:
        return await store.weekly_picture(session, config, **WEEKS)


async def audit_rows(db: Database, prefix: str = "retention.") -> list[AuditEvent]:
    async with db.session() as session:
        rows = await session.exec(select(AuditEvent).where(AuditEvent.action.like(f"{prefix}%"))
                                  .order_by(AuditEvent.id))
        return list(rows.scalars())


async def snapshot(db: Database, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    found = {}
    async with db.session() as session:
        for table in metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = await session.exec(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [tuple(row) for row in rows]
    return found


async def purge(db: Database, config, at: datetime, **kwargs) -> rules.PurgeResult:
    return await store.purge(db, config, now=at, **kwargs)


# ---------------------------------------------------------------- the rules

def test_cutoffs_follow_the_config(config):
    now = datetime(2027, 1, 1, tzinfo=UTC)
    cut = rules.cutoffs(config.retention, now)
    assert cut[REPORT_TEXT] == now - 90 * DAY and cut[REPORTS] == now - 1095 * DAY
    assert cut[INBOX] == now - 24 * HOUR and cut[DIALOG_DATA] == cut[DIALOGS] == now - 7 * DAY
    assert set(cut) == set(KIND_KEYS)
    with pytest.raises(ValueError, match="aware"):
        rules.cutoffs(config.retention, datetime(2027, 1, 1))


def test_the_local_week_starts_on_monday_midnight_local_time(config):
    assert rules.week_start(SUNDAY_LATE, config.tz) == date(2026, 3, 23)
    assert rules.week_start(MONDAY_EARLY, config.tz) == date(2026, 3, 30)
    [(monday, since, until)] = rules.week_bounds(date(2026, 3, 25), date(2026, 3, 29), config.tz)
    assert monday == date(2026, 3, 23)
    assert until - since == timedelta(hours=167)  # the spring DST change is in this week


def test_weekly_cells_count_each_report_once_overall_and_once_per_category(config):
    def fact(report_id, org, categories, severity, people, withdrawn=False, at=SUNDAY_LATE):
        return ReportFact(report_id=report_id, area_key="vivalla", place_key=None,
                          place_name=None, org_key=org, category_keys=tuple(categories),
                          people=people, severity=severity, occurred_at=at,
                          withdrawn=withdrawn)

    cells = rules.weekly_cells([
        fact(1, "nattvandrarna", ["skadegorelse", "samling"], 3, "3-5"),
        fact(2, "nattvandrarna", ["skadegorelse"], None, "11-20"),
        fact(3, "polisen", ["lugnt"], None, None),
        fact(4, "nattvandrarna", ["stenkastning"], 4, None, withdrawn=True),
        fact(5, "gamla_orgen", ["borttagen_kategori"], 1, None, at=MONDAY_EARLY),
    ], config)
    week = date(2026, 3, 23)
    overall = cells[("vivalla", week, ALL_CATEGORIES, "nattvandrare")]
    assert (overall.report_count, overall.severity_sum) == (2, 3)
    # 2 × 1.0 × 1.5 (severity 3) and 2 × 1.3 (6–20 people) × 1.0 (no severity)
    assert overall.weight_sum == pytest.approx(3.0 + 2.6)
    assert cells[("vivalla", week, "samling", "nattvandrare")].weight_sum == pytest.approx(1.5)
    assert cells[("vivalla", week, "skadegorelse", "nattvandrare")].report_count == 2
    calm = cells[("vivalla", week, ALL_CATEGORIES, "polis")]
    assert (calm.report_count, calm.weight_sum) == (1, 0.0)
    assert ("vivalla", week, "stenkastning", "nattvandrare") not in cells  # withdrawn
    unknown = cells[("vivalla", date(2026, 3, 30), "borttagen_kategori", "annan")]
    assert (unknown.report_count, unknown.weight_sum) == (1, 0.0)


def test_a_hold_covers_whole_local_days(config):
    window = rules.hold_window("vivalla", date(2026, 3, 29), date(2026, 3, 29), config.tz)
    assert window.covers("vivalla", SUNDAY_LATE)
    assert not window.covers("vivalla", MONDAY_EARLY)  # 00:30 local on the next day
    assert not window.covers("oxhagen", SUNDAY_LATE)
    assert rules.hold_window(None, date(2026, 3, 29), date(2026, 3, 29),
                             config.tz).covers("oxhagen", SUNDAY_LATE)


@pytest.mark.parametrize(("area", "start", "end", "reason", "problem"), [
    ("narnia", date(2026, 1, 1), date(2026, 1, 2), "dnr 1", "okänt område: narnia"),
    (None, date(2026, 2, 1), date(2026, 1, 1), "dnr 1", "--from (2026-02-01) ligger efter"),
    (None, date(2026, 1, 1), date(2026, 1, 1), "   ", "ange ett skäl med --reason"),
    (None, date(2026, 1, 1), date(2026, 1, 1), "x" * 301, "högst 300 tecken"),
])
def test_a_hold_is_checked_with_swedish_messages(config, area, start, end, reason, problem):
    with pytest.raises(HoldProblem) as caught:
        rules.check_hold(config, area_key=area, starts_on=start, ends_on=end, reason=reason)
    assert problem in str(caught.value)


def test_every_problem_of_a_hold_is_named_at_once(config):
    with pytest.raises(HoldProblem) as caught:
        rules.check_hold(config, area_key="narnia", starts_on=date(2026, 2, 1),
                         ends_on=date(2026, 1, 1), reason="")
    assert len(str(caught.value).splitlines()) == 3
    request = rules.check_hold(config, area_key=" vivalla ", starts_on=date(2026, 1, 1),
                               ends_on=date(2026, 1, 1), reason="  dnr  KS 2026/1 ")
    assert (request.area_key, request.reason) == ("vivalla", "dnr KS 2026/1")


@pytest.mark.parametrize(("text", "problem"), [("2026-13-01", "finns inte i kalendern"),
                                               ("1 dec", "Skriv ÅÅÅÅ-MM-DD")])
def test_hold_dates_are_checked(text, problem):
    with pytest.raises(HoldProblem, match=problem):
        rules.parse_day(text, "--from")


def test_the_previous_month_is_a_local_calendar_month(config):
    month = rules.previous_month(datetime(2026, 11, 1, 2, 30, tzinfo=UTC), config.tz)
    assert (month.key, month.label) == ("2026-10", "oktober 2026")
    assert month.since == datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # CEST
    assert month.until == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # CET
    assert rules.previous_month(datetime(2027, 1, 15, tzinfo=UTC), config.tz).key == "2026-12"


@pytest.mark.parametrize(("hours", "ok"), [(23, False), (24, True), (48, True), (49, False)])
def test_inbox_hours_must_leave_room_for_telegrams_resends(hours, ok):
    text = default_config_path().read_text().replace("inbox_hours = 24",
                                                     f"inbox_hours = {hours}")
    if ok:
        assert parse_config(text).retention.inbox_hours == hours
    else:
        with pytest.raises(ConfigError, match=r"retention\.inbox_hours: måste vara mellan 24"):
            parse_config(text)


# ---------------------------------------------------------------- reports

async def test_reports_lose_text_then_reporter_then_go_and_the_weekly_picture_stays(db,
                                                                                    config):
    ids = await seed(db)
    before = await picture(db, config)
    assert before[("vivalla", date(2026, 3, 23), ALL_CATEGORIES)] == WeekCount(1, 3)
    assert before[("vivalla", date(2026, 3, 30), ALL_CATEGORIES)] == WeekCount(1, 4)
    assert before[("vivalla", date(2026, 3, 23), "samling")] == WeekCount(1, 3)
    assert not any(key[0] == "centrum" for key in before)  # withdrawn: not in the picture
    retention = config.retention

    quiet = await purge(db, config, after(retention.report_text_days, hours=-1))
    assert (quiet.counts[REPORT_TEXT], quiet.counts[DIALOG_DATA]) == (0, 4)
    assert all(r.text_erased_at is None for r in (await reports(db)).values())

    text_at = after(retention.report_text_days)
    result = await purge(db, config, text_at)
    assert (result.counts[REPORT_TEXT], result.counts[REPORTER_LINK],
            result.counts[REPORTS]) == (3, 0, 0)
    rows = await reports(db)
    assert rows[ids["sunday"]].text is None and rows[ids["sunday"]].text_erased_at == text_at
    assert rows[ids["sunday"]].member_id is not None
    assert rows[ids["calm"]].text_erased_at is None  # it never had any text

    link_at = after(retention.reporter_link_days)
    result = await purge(db, config, link_at)
    assert (result.counts[REPORT_TEXT], result.counts[REPORTER_LINK]) == (0, 4)
    rows = await reports(db)
    assert {r.member_id for r in rows.values()} == {None}
    assert {r.reporter_erased_at for r in rows.values()} == {link_at}
    assert rows[ids["monday"]].org_key == "polisen"
    assert await picture(db, config) == before

    result = await purge(db, config, after(retention.report_days))
    assert (result.counts[REPORTS], result.counts[DIALOGS]) == (4, 4)  # their dialogs too
    assert await reports(db) == {}
    assert await count(db, ReportCategory) == 0
    assert await picture(db, config) == before
    async with db.session() as session:
        cells = {(c.area_key, c.week_start, c.category_key, c.org_kind): c
                 for c in (await session.exec(select(WeeklyAggregate))).scalars()}
    sunday = cells[("vivalla", date(2026, 3, 23), ALL_CATEGORIES, "nattvandrare")]
    assert (sunday.report_count, sunday.severity_sum) == (1, 3)
    assert sunday.weight_sum == pytest.approx(3.0)  # skadegörelse 2 × severity 3 (1.5)
    monday = cells[("vivalla", date(2026, 3, 30), "stenkastning", "polis")]
    assert (monday.report_count, monday.weight_sum) == (1, pytest.approx(8.0))

    logged = [(e.action, e.details["count"]) for e in await audit_rows(db)
              if e.action != store.RUN_ACTION]
    assert logged == [("retention.dialog_data", 4), ("retention.report_text", 3),
                      ("retention.reporter_link", 4), ("retention.reports", 4),
                      ("retention.dialogs", 4)]
    runs = [e for e in await audit_rows(db) if e.action == store.RUN_ACTION]
    assert len(runs) == 4 and {e.actor for e in runs} == {audit.SYSTEM}
    assert runs[-1].details["counts"][REPORTS] == 4


async def test_aggregates_add_up_when_a_week_is_purged_in_parts(db, config):
    """Reports of one week that come in on different days are deleted on different
    nights; the second night adds to the cells of the first."""
    await seed(db, {"early": SPECS["sunday"]}, at=MOMENT)
    late = {"late": (7001, "vivalla", "viv_fritid", SUNDAY_LATE - HOUR, ["skadegorelse"], 1,
                     None, None, False)}
    async with db.session() as session:
        member = (await session.exec(select(Member).where(Member.telegram_user_id == 7001))
                  ).scalars().one()
        draft = await open_draft(session, member_id=member.id, chat_id=7001, step="summary",
                                 data=ReportDraft(area="vivalla", place_key="viv_fritid",
                                                  categories=["skadegorelse"], severity=1,
                                                  occurred_at=late["late"][3].isoformat()
                                                  ).to_json(), now=MOMENT + 2 * DAY)
        await submit_draft(session, draft, member, now=MOMENT + 2 * DAY, year=2026)
        await session.commit()
    before = await picture(db, config)
    first = await purge(db, config, after(config.retention.report_days))
    second = await purge(db, config, after(config.retention.report_days + 2))
    assert (first.counts[REPORTS], second.counts[REPORTS]) == (1, 1)
    assert await picture(db, config) == before
    async with db.session() as session:
        [cell] = (await session.exec(select(WeeklyAggregate).where(
            WeeklyAggregate.category_key == "skadegorelse"))).scalars()
    assert (cell.report_count, cell.severity_sum) == (2, 4)


async def test_a_hold_keeps_its_reports_and_reporter_until_it_is_removed(db, config):
    elsewhere = (7002, "oxhagen", "oxh_skola", SUNDAY_LATE, ["samling"], 1, None, None, False)
    ids = await seed(db, {**SPECS, "elsewhere": elsewhere})  # same day, another area
    async with db.session() as session:
        await session.exec(update(Member).values(ended_at=MOMENT + DAY, active=False,
                                                 paused=True))
        request = rules.check_hold(config, area_key="vivalla", starts_on=date(2026, 3, 29),
                                   ends_on=date(2026, 3, 29), reason="dnr KS 2026/123")
        hold, covered = await store.add_hold(session, request, config=config, now=MOMENT,
                                             actor=audit.SHELL)
        await session.commit()
    assert covered == 1  # Sunday 23:30 local, not Monday 00:30
    before = await picture(db, config)
    late = after(config.retention.report_days)

    result = await purge(db, config, late)
    assert result.held == 1 and result.counts[REPORTS] == 4
    rows = await reports(db)
    assert set(rows) == {ids["sunday"]}
    kept = rows[ids["sunday"]]
    assert kept.text == "Stenar vid porten" and kept.member_id is not None
    assert kept.text_erased_at is None and kept.reporter_erased_at is None
    async with db.session() as session:
        names = {m.telegram_user_id: (m.first_name, m.paused)
                 for m in (await session.exec(select(Member))).scalars()}
        draft = await session.get(Dialog, kept.draft_id)
    assert names == {7001: ("Anna", True), 7002: (rules.ENDED_MEMBER_NAME, False)}
    assert draft.data["text"] == "Stenar vid porten"  # held: its dialog is kept as it was
    assert await picture(db, config) == before

    async with db.session() as session:
        removed, _, now_removed = await store.remove_hold(session, hold.id, config=config,
                                                          now=late, actor=audit.SHELL)
        await session.commit()
    assert removed.removed_at == late and now_removed
    result = await purge(db, config, late + HOUR)
    assert result.held == 0
    assert [result.counts[k] for k in (REPORT_TEXT, REPORTER_LINK, REPORTS, ENDED_MEMBERS)] \
        == [1, 1, 1, 1]
    assert await reports(db) == {}
    assert await picture(db, config) == before
    holds = [(e.action, e.details["reports"], e.actor) for e in await audit_rows(db)
             if e.object_kind == "legal_hold"]
    assert holds == [(store.HOLD_ADDED, 1, audit.SHELL), (store.HOLD_REMOVED, 1, audit.SHELL)]


async def test_a_hold_of_all_areas_keeps_every_report_of_its_days(db, config):
    await seed(db)
    async with db.session() as session:
        await store.add_hold(session, rules.check_hold(
            config, area_key=None, starts_on=date(2026, 3, 29), ends_on=date(2026, 3, 31),
            reason="Överklagande"), config=config, now=MOMENT)
        await session.commit()
    result = await purge(db, config, after(config.retention.report_days))
    assert result.total == 0 and result.held == 4
    assert len(await reports(db)) == 4


# ---------------------------------------------------------------- dry run, crash

async def test_a_dry_run_changes_nothing_and_counts_what_the_run_does(db, config):
    await seed_everything(db)
    moments = [after(config.retention.report_text_days), after(config.retention.audit_days)]
    seen = []
    for moment in moments:
        before = await snapshot(db)
        dry = await _dry(db, config, moment)
        assert dry.dry_run and await snapshot(db) == before
        done = await purge(db, config, moment)
        assert dict(done.counts) == dict(dry.counts), moment
        assert done.held == dry.held
        seen.append([done.counts[kind] for kind in KIND_KEYS])
    # KIND_KEYS order: text, link, reports, dialogs, dialog data, deliveries, inbox,
    # ended members, audit. The far run deletes the dialogs of the reports it deletes.
    assert seen == [[3, 0, 0, 1, 4, 1, 1, 1, 0], [0, 4, 4, 4, 0, 0, 0, 0, 1]]
    assert await count(db, Delivery) == 1 and await count(db, InboxUpdate) == 1
    async with db.session() as session:
        bosse = (await session.exec(select(Member).where(Member.telegram_user_id == 7002))
                 ).scalars().one()
    assert (bosse.first_name, bosse.paused, bosse.feedback_opt_out) \
        == (rules.ENDED_MEMBER_NAME, False, False)


async def _dry(db: Database, config, moment: datetime) -> rules.PurgeResult:
    async with db.session() as session:
        return await store.due_counts(session, config, moment)


def _many() -> dict:
    """Eleven reports over three weeks and three areas."""
    specs = dict(SPECS)
    areas = ("vivalla", "oxhagen", "varberga")
    for n in range(7):
        at = SUNDAY_LATE - timedelta(days=2 * n, hours=n)
        specs[f"extra{n}"] = (7001 + n % 2, areas[n % 3], None, at,
                              ["samling", "skadegorelse"][: 1 + n % 2], 1 + n % 4, "6-10",
                              f"Text {n}", False)
    return specs


def _comparable(state: dict[str, list[tuple]]) -> dict:
    """The end state without ids of aggregate rows (an upsert may use up a sequence
    value) and with sums of floats rounded (batches add them in another order)."""
    state = dict(state)
    state["weekly_aggregates"] = sorted((*row[1:7], round(row[7], 9))
                                        for row in state["weekly_aggregates"])
    return state


def test_a_purge_killed_after_its_first_batch_is_finished_by_the_next_run(
        databases, config, monkeypatch):
    """Sync, so that each half gets a fresh database (on PostgreSQL: the same one emptied,
    which needs its own event loop)."""
    moment = after(config.retention.report_days)

    async def clean_run(url: str):
        db = Database(url)
        try:
            await seed(db, _many())
            before = await picture(db, config)
            result = await purge(db, config, moment)
            return before, result, _comparable(await snapshot(db, skip=("audit_events",)))
        finally:
            await db.dispose()

    async def killed_run(url: str):
        db = Database(url)
        try:
            await seed(db, _many())
            before = await picture(db, config)
            real = store.STEPS[REPORTS]
            calls = []

            async def killed_after_one(session, scope, limit):
                calls.append(limit)
                if len(calls) > 1:
                    raise RuntimeError("kill -9")
                return await real(session, scope, limit)

            monkeypatch.setitem(store.STEPS, REPORTS, killed_after_one)
            with pytest.raises(RuntimeError, match="kill -9"):
                await purge(db, config, moment, batch_size=4)
            assert len(await reports(db)) == 11 - 4  # the first batch is committed
            assert await picture(db, config) == before  # and so are its aggregates
            assert [e.details["count"] for e in await audit_rows(db, "retention.reports")] \
                == [4]

            monkeypatch.setitem(store.STEPS, REPORTS, real)
            rerun = await purge(db, config, moment, batch_size=4)
            assert rerun.counts[REPORTS] == 7
            assert await picture(db, config) == before
            batches = [e.details["count"] for e in await audit_rows(db, "retention.reports")]
            return batches, _comparable(await snapshot(db, skip=("audit_events",)))
        finally:
            await db.dispose()

    before, clean, clean_state = asyncio.run(clean_run(databases.fresh()))
    assert clean.counts[REPORTS] == 11 and before
    batches, state = asyncio.run(killed_run(databases.fresh()))
    assert state == clean_state
    assert batches == [4, 4, 3] and sum(batches) == clean.counts[REPORTS]


# ---------------------------------------------------------------- other kinds

async def test_old_deliveries_inbox_rows_and_audit_rows_go_the_rest_stays(db, config):
    await seed_everything(db)
    retention = config.retention
    early = await purge(db, config, after(retention.delivery_days, hours=-2))
    assert (early.counts[DELIVERIES], early.counts[INBOX]) == (0, 1)
    result = await purge(db, config, after(retention.delivery_days))
    assert result.counts[DELIVERIES] == 1
    async with db.session() as session:
        [left] = (await session.exec(select(Delivery))).scalars()
        [inbox] = (await session.exec(select(InboxUpdate))).scalars()
    assert left.status == "pending" and inbox.done_at is None  # in flight, unhandled
    assert await count(db, Broadcast) == 1  # the claim of the period stays
    older = await purge(db, config, after(retention.audit_days))
    assert older.counts[AUDIT] == 1  # the member.ended row; the gallring's own rows are new
    async with db.session() as session:
        actions = {e.action for e in (await session.exec(select(AuditEvent))).scalars()}
    assert "member.ended" not in actions and store.RUN_ACTION in actions


async def test_an_ended_member_keeps_the_row_and_loses_name_and_choices(db, config):
    await seed_everything(db)
    ended_at = MOMENT
    assert (await purge(db, config, ended_at + 29 * DAY)).counts[ENDED_MEMBERS] == 0
    assert (await purge(db, config, ended_at + 30 * DAY + HOUR)).counts[ENDED_MEMBERS] == 1
    assert (await purge(db, config, ended_at + 31 * DAY)).counts[ENDED_MEMBERS] == 0
    async with db.session() as session:
        members = {m.telegram_user_id: m for m in (await session.exec(select(Member))).scalars()}
        own = (await session.exec(select(func.count()).select_from(Report).where(
            Report.member_id == members[7002].id))).scalar_one()
    assert members[7002].first_name == rules.ENDED_MEMBER_NAME
    assert members[7001].first_name == "Anna"  # a current member is not touched
    assert own == 2  # the reports still point at the row until their own link period


# ---------------------------------------------------------------- the bot

ADMIN = 9101


async def admin(bot, fake, user_id: int = ADMIN) -> None:
    await make_admin(bot, user_id)
    fake.user(user_id, "Admin")
    fake.send_text(user_id, "/start")
    await bot.settle()


def summaries(fake, user_id: int = ADMIN) -> list[str]:
    return [m.get("text", "") for m in fake.bot_messages(user_id)
            if "Gallring i" in m.get("text", "")]


async def test_the_nightly_purge_is_scheduled_at_0330_local(bot):
    [job] = bot.application.job_queue.get_jobs_by_name(nightly.JOB_NAME)
    assert isinstance(job.job.trigger, CronTrigger)
    assert job.next_t.astimezone(bot.config.tz).strftime("%H:%M") == "03:30"
    assert job.job.misfire_grace_time == nightly.MISFIRE_GRACE_S


async def test_the_trigger_purges_once_a_night_and_only_at_the_purge_hour(bot, clock):
    context = SimpleNamespace(application=bot.application, bot=bot.application.bot)
    clock.now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # 21:00 local
    assert await nightly.run_if_due(bot.services, bot.application.bot) is None
    clock.now = datetime(2026, 11, 21, 2, 31, tzinfo=UTC)  # 03:31 local
    await nightly._nightly(context)
    assert await nightly.run_if_due(bot.services, bot.application.bot) is None  # done
    clock.now = datetime(2026, 11, 22, 2, 35, tzinfo=UTC)
    assert await nightly.run_if_due(bot.services, bot.application.bot) is not None
    async with bot.services.db.session() as session:
        runs = (await session.exec(select(AuditEvent.at).where(
            AuditEvent.action == store.RUN_ACTION).order_by(AuditEvent.at))).scalars().all()
    assert runs == [datetime(2026, 11, 21, 2, 31, tzinfo=UTC),
                    datetime(2026, 11, 22, 2, 35, tzinfo=UTC)]
    summer = datetime(2026, 7, 1, 1, 29, tzinfo=UTC)  # 03:29 CEST: before that night's run
    assert nightly.last_occurrence(summer, bot.config.tz) == datetime(2026, 6, 30, 1, 30,
                                                                      tzinfo=UTC)


async def test_abandoned_dialogs_go_and_a_sent_reports_dialog_is_emptied(bot, clock):
    anna = await registered(bot, 7101)
    await file_report(anna, text="Stenar vid porten")
    prompt = await anna.send("/rapport")  # never finished
    async with bot.services.db.session() as session:
        [done, left] = (await session.exec(select(Dialog).where(Dialog.kind == "report")
                                           .order_by(Dialog.id))).scalars()
    assert done.data["text"] == "Stenar vid porten"
    clock.advance(days=8)
    result = await nightly.run_purge(bot.services, bot.application.bot)
    assert result.counts[DIALOGS] >= 1 and result.counts[DIALOG_DATA] == 1
    assert result.counts[INBOX] >= 3  # the handled updates, while the bot runs
    async with bot.services.db.session() as session:
        assert await session.get(Dialog, left.id) is None
        emptied = await session.get(Dialog, done.id)
        [report] = (await session.exec(select(Report))).scalars()
    assert (emptied.data, emptied.step, emptied.message_id) == ({}, rules.EMPTIED_STEP, None)
    assert report.draft_id == done.id and report.text == "Stenar vid porten"
    query = bot.fake.click(anna.user_id, prompt, "Vivalla")
    await bot.settle()
    assert bot.fake.callback_answer(query["id"])["text"] == "Den här knappen gäller inte längre."
    again = await anna.send("/rapport")  # the bot carries on as before
    assert "Vivalla" in bot.fake.buttons(again, chat_id=anna.user_id)


async def test_admins_get_one_summary_a_month_of_what_was_purged(bot, fake, clock):
    await admin(bot, fake)
    clock.now = datetime(2026, 10, 10, 1, 30, tzinfo=UTC)  # 03:30 local
    await seed(bot.services.db, at=clock.now - 100 * DAY)
    first = await nightly.run_purge(bot.services, bot.application.bot)
    assert first.counts[REPORT_TEXT] == 3
    assert summaries(fake) == []  # no run in September: nothing to sum up
    clock.now = datetime(2026, 10, 20, 1, 30, tzinfo=UTC)
    await nightly.run_purge(bot.services, bot.application.bot)

    clock.now = datetime(2026, 11, 1, 2, 30, tzinfo=UTC)  # 03:30 CET, the first of a month
    await nightly.run_purge(bot.services, bot.application.bot)
    [text] = summaries(fake)
    assert "Gallring i oktober 2026" in text and "2 körningar" in text
    assert "fritext raderad i 3 rapporter" in text
    assert "innehållet tömt i 4 skickade rapportdialoger" in text
    assert "lagesbild hold list" not in text  # no holds

    await admin(bot, fake, ADMIN + 1)  # joins later: gets no old summary
    clock.now = datetime(2026, 11, 2, 2, 30, tzinfo=UTC)
    await nightly.run_purge(bot.services, bot.application.bot)
    assert len(summaries(fake)) == 1 and summaries(fake, ADMIN + 1) == []
    async with bot.services.db.session() as session:
        logged = (await session.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == store.RUN_ACTION, AuditEvent.actor == audit.SYSTEM))
        ).scalar_one()
    assert logged == 4


async def test_a_failed_night_is_told_to_the_admins_and_the_next_one_finishes(
        bot, fake, clock, monkeypatch):
    await admin(bot, fake)
    await seed(bot.services.db, at=clock.now - 1100 * DAY)

    async def broken(session, scope, limit):
        raise RuntimeError("disk full")

    real = store.STEPS[REPORTS]
    monkeypatch.setitem(store.STEPS, REPORTS, broken)
    with pytest.raises(RuntimeError):
        await nightly.run_purge(bot.services, bot.application.bot)
    [notice] = [m["text"] for m in fake.bot_messages(ADMIN) if "avbröts" in m.get("text", "")]
    assert "lagesbild purge" in notice
    monkeypatch.setitem(store.STEPS, REPORTS, real)
    clock.advance(days=1)
    result = await nightly.run_purge(bot.services, bot.application.bot)
    assert result.counts[REPORTS] == 4 and await count(bot.services.db, Report) == 0


async def test_a_typed_place_name_is_erased_with_the_free_text(db, config):
    typed = {"typed": (7001, "vivalla", None, TUESDAY, ["skadegorelse"], 2, "1-2", None,
                       False)}
    ids = await seed(db, typed)
    async with db.session() as session:  # "Annan plats": the place as the reporter wrote it
        report = await session.get(Report, ids["typed"])
        report.place_name = "Utanför Storgatan 5"
        session.add(report)
        await session.commit()
    result = await purge(db, config, after(config.retention.report_text_days))
    assert result.counts[REPORT_TEXT] == 1
    row = (await reports(db))[ids["typed"]]
    assert row.place_name is None and row.text_erased_at is not None
    assert row.area_key == "vivalla"
