"""The gallring's queries: due rows per kind, batched purges, legal holds, weekly aggregates.

The rules (cutoffs, hold windows, aggregate cells) are in est.retention; here they become
SQL. Every step works in batches of at most ``BATCH_SIZE`` rows, and every batch is its
own transaction together with its audit row (``retention.<kind>`` with the count): a run
killed halfway keeps what it finished, and the next run takes up the rest. Counting,
selecting and changing happen in SQL; only the few hundred reports of one deletion batch
are read, to add them to ``weekly_aggregates`` in the same transaction as their deletion.

A dry run (``due_counts``) only counts, with the same conditions, so it reports exactly
what a run at the same moment would do: a dialog that only a report due for deletion
refers to is counted as deleted, as the run deletes that report first.

Concurrency: the deletion batch locks its reports (PostgreSQL: FOR UPDATE SKIP LOCKED)
and checks that it deleted every report it aggregated, so two runs at once (the nightly
job and ``lagesbild purge``) never count a report twice; every update repeats its
condition on the row, so a row another run already changed is not counted again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    and_,
    case,
    delete,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from est import retention as rules
from est.analysis import ReportFact
from est.config import DeploymentConfig
from est.retention import (
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
    HoldRequest,
    HoldWindow,
    PurgeResult,
)
from storage import audit, outbox
from storage.db import Database
from storage.dialogs import OPEN
from storage.models import (
    AuditEvent,
    Broadcast,
    Delivery,
    Dialog,
    InboxUpdate,
    LegalHold,
    Member,
    Report,
    ReportCategory,
    WeeklyAggregate,
)

BATCH_SIZE = 500
CELLS_PER_INSERT = 500  # keeps one upsert well below the drivers' parameter limits
ACTION_PREFIX = "retention."
RUN_ACTION = "retention.run"
HOLD_ADDED = "retention.hold_added"
HOLD_REMOVED = "retention.hold_removed"
OBJECT_KIND = "retention"
FINISHED_DELIVERIES = (outbox.SENT, outbox.FAILED, outbox.BLOCKED)

_reports = Report.__table__
_categories = ReportCategory.__table__
_dialogs = Dialog.__table__
_deliveries = Delivery.__table__
_broadcasts = Broadcast.__table__
_inbox = InboxUpdate.__table__
_members = Member.__table__
_aggregates = WeeklyAggregate.__table__
_CELL = ("area_key", "week_start", "category_key", "org_kind")


class PurgeConflict(RuntimeError):
    """Another run deleted some of this batch's reports first; the batch is rolled back."""


def batch_action(kind: str) -> str:
    return ACTION_PREFIX + kind


@dataclass(frozen=True)
class Scope:
    """One run's moment, cutoffs and the holds in force."""

    config: DeploymentConfig
    now: datetime
    cutoffs: Mapping[str, datetime]
    holds: tuple[HoldWindow, ...]


# ---------------------------------------------------------------- legal holds

async def holds(session: AsyncSession, *, include_removed: bool = False) -> list[LegalHold]:
    query = select(LegalHold)
    if not include_removed:
        query = query.where(col(LegalHold.removed_at).is_(None))
    query = query.order_by(col(LegalHold.starts_on), col(LegalHold.id))
    return list((await session.exec(query)).scalars().all())


async def scope_for(session: AsyncSession, config: DeploymentConfig, now: datetime) -> Scope:
    windows = tuple(rules.hold_window(h.area_key, h.starts_on, h.ends_on, config.tz, h.id)
                    for h in await holds(session))
    return Scope(config, now, rules.cutoffs(config.retention, now), windows)


async def reports_in_window(session: AsyncSession, window: HoldWindow) -> int:
    """How many reports a hold covers, of any age."""
    return await _count(session, _reports, _held(_reports, (window,)))


async def add_hold(session: AsyncSession, request: HoldRequest, *, config: DeploymentConfig,
                   now: datetime, actor: str | None = None,
                   actor_member_id: int | None = None) -> tuple[LegalHold, int]:
    """Record a hold (validated by est.retention.check_hold) and its audit row.

    Returns the hold and how many reports it covers now. Flushed, not committed.
    """
    hold = LegalHold(area_key=request.area_key, starts_on=request.starts_on,
                     ends_on=request.ends_on, reason=request.reason,
                     created_by_member_id=actor_member_id, created_at=now)
    session.add(hold)
    await session.flush()
    covered = await reports_in_window(
        session, rules.hold_window(hold.area_key, hold.starts_on, hold.ends_on, config.tz))
    await audit.record(session, HOLD_ADDED, now=now, actor=actor,
                       actor_member_id=actor_member_id, object_kind="legal_hold",
                       object_id=hold.id,
                       details={"area": hold.area_key, "from": hold.starts_on.isoformat(),
                                "to": hold.ends_on.isoformat(), "reports": covered})
    return hold, covered


async def remove_hold(session: AsyncSession, hold_id: int, *, config: DeploymentConfig,
                      now: datetime, actor: str | None = None,
                      actor_member_id: int | None = None
                      ) -> tuple[LegalHold | None, int, bool]:
    """End a hold; its reports are purged by the next run as the config says.

    Returns (the hold, reports it covers, whether it was removed now): (None, 0, False)
    when there is no such hold, (hold, n, False) when it was removed before.
    """
    hold = (await session.exec(
        select(LegalHold).where(LegalHold.id == hold_id).with_for_update())).scalars().first()
    if hold is None:
        return None, 0, False
    covered = await reports_in_window(
        session, rules.hold_window(hold.area_key, hold.starts_on, hold.ends_on, config.tz))
    if hold.removed_at is not None:
        return hold, covered, False
    hold.removed_at, hold.removed_by_member_id = now, actor_member_id
    session.add(hold)
    await session.flush()
    await audit.record(session, HOLD_REMOVED, now=now, actor=actor,
                       actor_member_id=actor_member_id, object_kind="legal_hold",
                       object_id=hold.id,
                       details={"area": hold.area_key, "from": hold.starts_on.isoformat(),
                                "to": hold.ends_on.isoformat(), "reports": covered})
    return hold, covered, True


# ---------------------------------------------------------------- what is due

def _held(r, windows: tuple[HoldWindow, ...]):
    """The reports (of table or alias ``r``) that a hold keeps."""
    if not windows:
        return false()
    parts = []
    for window in windows:
        conditions = [r.c.occurred_at >= window.since, r.c.occurred_at < window.until]
        if window.area_key is not None:
            conditions.append(r.c.area_key == window.area_key)
        parts.append(and_(*conditions))
    return or_(*parts)


def _typed_place(r):
    """A place the reporter typed ("Annan plats"): free text, gallrad like the text."""
    return and_(r.c.place_key.is_(None), r.c.place_name.is_not(None))


def _text_due(r, s: Scope):
    return and_(or_(r.c.text.is_not(None), _typed_place(r)),
                r.c.received_at < s.cutoffs[REPORT_TEXT], not_(_held(r, s.holds)))


def _link_due(r, s: Scope):
    return and_(r.c.member_id.is_not(None), r.c.received_at < s.cutoffs[REPORTER_LINK],
                not_(_held(r, s.holds)))


def _report_due(r, s: Scope):
    return and_(r.c.received_at < s.cutoffs[REPORTS], not_(_held(r, s.holds)))


def _dialog_delete_due(d, s: Scope, *, ahead: bool = False):
    """Dialogs not touched for the period that no report refers to.

    ``ahead`` (the dry run): also those only a report due for deletion refers to. The run
    itself needs no report at all (the foreign key), and deletes those reports first.
    """
    ref = _reports.alias()
    refers = ref.c.draft_id == d.c.id
    if ahead:
        refers = and_(refers, not_(_report_due(ref, s)))
    return and_(d.c.updated_at < s.cutoffs[DIALOGS], not_(exists().where(refers)))


def _dialog_empty_due(d, s: Scope):
    """Submitted report dialogs not touched for the period, whose report stays and is free."""
    ref = _reports.alias()
    staying = and_(ref.c.draft_id == d.c.id, not_(_held(ref, s.holds)),
                   ref.c.received_at >= s.cutoffs[REPORTS])
    return and_(d.c.updated_at < s.cutoffs[DIALOG_DATA], d.c.status != OPEN,
                d.c.step != rules.EMPTIED_STEP, exists().where(staying))


def _delivery_due(dl, s: Scope):
    cutoff = s.cutoffs[DELIVERIES]
    b = _broadcasts.alias()
    old = or_(and_(dl.c.sent_at.is_not(None), dl.c.sent_at < cutoff),
              and_(dl.c.sent_at.is_(None),
                   exists().where(b.c.id == dl.c.broadcast_id, b.c.created_at < cutoff)))
    return and_(dl.c.status.in_(FINISHED_DELIVERIES), old)


def _inbox_due(u, s: Scope):
    return and_(u.c.done_at.is_not(None), u.c.done_at < s.cutoffs[INBOX])


def _member_due(m, s: Scope):
    """Ended members whose name or choices are still there, none of whose reports is held."""
    ref = _reports.alias()
    return and_(
        m.c.ended_at.is_not(None), m.c.ended_at < s.cutoffs[ENDED_MEMBERS],
        or_(m.c.first_name != rules.ENDED_MEMBER_NAME, m.c.paused.is_(True),
            m.c.feedback_opt_out.is_(True)),
        not_(exists().where(ref.c.member_id == m.c.id, _held(ref, s.holds))),
    )


def _audit_due(a, s: Scope):
    return a.c.at < s.cutoffs[AUDIT]


async def _count(session: AsyncSession, table, clause) -> int:
    query = select(func.count()).select_from(table).where(clause)
    return (await session.exec(query)).scalar_one()


_COUNTERS: dict[str, tuple[Any, Callable[..., Any]]] = {
    REPORT_TEXT: (_reports, _text_due),
    REPORTER_LINK: (_reports, _link_due),
    REPORTS: (_reports, _report_due),
    DIALOGS: (_dialogs, lambda d, s: _dialog_delete_due(d, s, ahead=True)),
    DIALOG_DATA: (_dialogs, _dialog_empty_due),
    DELIVERIES: (_deliveries, _delivery_due),
    INBOX: (_inbox, _inbox_due),
    ENDED_MEMBERS: (_members, _member_due),
    AUDIT: (AuditEvent.__table__, _audit_due),
}


async def held_count(session: AsyncSession, s: Scope) -> int:
    """Reports due for some step that a hold keeps."""
    if not s.holds:
        return 0
    r = _reports
    due = or_(and_(r.c.text.is_not(None), r.c.received_at < s.cutoffs[REPORT_TEXT]),
              and_(r.c.member_id.is_not(None), r.c.received_at < s.cutoffs[REPORTER_LINK]),
              r.c.received_at < s.cutoffs[REPORTS])
    return await _count(session, r, and_(_held(r, s.holds), due))


async def due_counts(session: AsyncSession, config: DeploymentConfig,
                     now: datetime) -> PurgeResult:
    """The dry run: what a run at ``now`` would remove, per kind. Reads only."""
    s = await scope_for(session, config, now)
    counts = {kind: await _count(session, table, clause(table, s))
              for kind, (table, clause) in _COUNTERS.items()}
    return PurgeResult(counts, await held_count(session, s), dry_run=True)


# ---------------------------------------------------------------- one batch per kind

def _ids(table, clause, limit: int):
    alias = table.alias()
    key = alias.c.update_id if table is _inbox else alias.c.id
    return select(key).where(clause(alias)).order_by(key).limit(limit)


async def erase_texts(session: AsyncSession, s: Scope, limit: int) -> int:
    ids = _ids(_reports, lambda r: _text_due(r, s), limit)
    result = await session.exec(
        update(_reports).where(_reports.c.id.in_(ids), _text_due(_reports, s))
        .values(text=None, text_erased_at=s.now,
                place_name=case((_reports.c.place_key.is_(None), None),
                                else_=_reports.c.place_name)))
    return result.rowcount


async def erase_reporter_links(session: AsyncSession, s: Scope, limit: int) -> int:
    ids = _ids(_reports, lambda r: _link_due(r, s), limit)
    result = await session.exec(
        update(_reports).where(_reports.c.id.in_(ids), _link_due(_reports, s))
        .values(member_id=None, reporter_erased_at=s.now))
    return result.rowcount


async def _facts(session: AsyncSession, ids: list[int]) -> list[ReportFact]:
    categories: dict[int, list[str]] = defaultdict(list)
    rows = await session.exec(select(_categories.c.report_id, _categories.c.category_key)
                              .where(_categories.c.report_id.in_(ids)))
    for report_id, key in rows:
        categories[report_id].append(key)
    r = _reports.c
    rows = await session.exec(
        select(r.id, r.area_key, r.place_key, r.place_name, r.org_key, r.people, r.severity,
               r.occurred_at, r.withdrawn_at).where(r.id.in_(ids)))
    return [ReportFact(report_id=row.id, area_key=row.area_key, place_key=row.place_key,
                       place_name=row.place_name, org_key=row.org_key,
                       category_keys=tuple(sorted(categories[row.id])), people=row.people,
                       severity=row.severity, occurred_at=row.occurred_at,
                       withdrawn=row.withdrawn_at is not None)
            for row in rows]


async def add_cells(session: AsyncSession, cells: Mapping[rules.CellKey, rules.Cell]) -> None:
    """Add the cells to ``weekly_aggregates``: a new row, or the sums of the existing one."""
    values = [dict(zip(_CELL, key, strict=True), report_count=cell.report_count,
                   severity_sum=cell.severity_sum, weight_sum=cell.weight_sum)
              for key, cell in sorted(cells.items())]
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(values), CELLS_PER_INSERT):
        statement = insert(_aggregates).values(values[start:start + CELLS_PER_INSERT])
        sums = {name: _aggregates.c[name] + statement.excluded[name]
                for name in ("report_count", "severity_sum", "weight_sum")}
        await session.exec(statement.on_conflict_do_update(index_elements=list(_CELL),
                                                           set_=sums))


async def delete_reports(session: AsyncSession, s: Scope, limit: int) -> int:
    """Delete one batch of reports with their categories, keeping their weekly cells."""
    query = _ids(_reports, lambda r: _report_due(r, s), limit)
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list((await session.exec(query)).scalars().all())
    if not ids:
        return 0
    await add_cells(session, rules.weekly_cells(await _facts(session, ids), s.config))
    await session.exec(delete(_categories).where(_categories.c.report_id.in_(ids)))
    result = await session.exec(delete(_reports).where(_reports.c.id.in_(ids)))
    if result.rowcount != len(ids):
        raise PurgeConflict(f"{len(ids) - result.rowcount} of {len(ids)} reports were gone")
    return result.rowcount


async def delete_dialogs(session: AsyncSession, s: Scope, limit: int) -> int:
    ids = _ids(_dialogs, lambda d: _dialog_delete_due(d, s), limit)
    result = await session.exec(
        delete(_dialogs).where(_dialogs.c.id.in_(ids), _dialog_delete_due(_dialogs, s)))
    return result.rowcount


async def empty_dialogs(session: AsyncSession, s: Scope, limit: int) -> int:
    """Submitted report dialogs lose their data; their old buttons then only say "ended"."""
    ids = _ids(_dialogs, lambda d: _dialog_empty_due(d, s), limit)
    result = await session.exec(
        update(_dialogs).where(_dialogs.c.id.in_(ids), _dialog_empty_due(_dialogs, s))
        .values(data={}, handled_update_ids=[], message_id=None, step=rules.EMPTIED_STEP))
    return result.rowcount


async def delete_deliveries(session: AsyncSession, s: Scope, limit: int) -> int:
    ids = _ids(_deliveries, lambda dl: _delivery_due(dl, s), limit)
    result = await session.exec(
        delete(_deliveries).where(_deliveries.c.id.in_(ids), _delivery_due(_deliveries, s)))
    return result.rowcount


async def delete_inbox(session: AsyncSession, s: Scope, limit: int) -> int:
    ids = _ids(_inbox, lambda u: _inbox_due(u, s), limit)
    result = await session.exec(
        delete(_inbox).where(_inbox.c.update_id.in_(ids), _inbox_due(_inbox, s)))
    return result.rowcount


async def clear_ended_members(session: AsyncSession, s: Scope, limit: int) -> int:
    """The row stays (reports and the audit log refer to it); the person's data goes."""
    ids = _ids(_members, lambda m: _member_due(m, s), limit)
    result = await session.exec(
        update(_members).where(_members.c.id.in_(ids), _member_due(_members, s))
        .values(first_name=rules.ENDED_MEMBER_NAME, paused=False, feedback_opt_out=False))
    return result.rowcount


async def purge_audit(session: AsyncSession, s: Scope, limit: int) -> int:
    return await audit.purge_before(session, s.cutoffs[AUDIT])


Step = Callable[[AsyncSession, Scope, int], Awaitable[int]]
# One batch of each kind, in the order a run takes them (est.retention.PURGE_KINDS).
STEPS: dict[str, Step] = {
    REPORT_TEXT: erase_texts,
    REPORTER_LINK: erase_reporter_links,
    REPORTS: delete_reports,
    DIALOGS: delete_dialogs,
    DIALOG_DATA: empty_dialogs,
    DELIVERIES: delete_deliveries,
    INBOX: delete_inbox,
    ENDED_MEMBERS: clear_ended_members,
    AUDIT: purge_audit,
}


# ---------------------------------------------------------------- a run

async def purge(db: Database, config: DeploymentConfig, *, now: datetime,
                actor: str = audit.SYSTEM, batch_size: int = BATCH_SIZE) -> PurgeResult:
    """Run every step to the end, batch by batch; each batch commits with its audit row.

    The run ends with one ``retention.run`` audit row holding the totals (also when
    nothing was due: the log shows that the gallring ran). An exception stops the run;
    what was committed stays, and the next run finishes the rest.
    """
    async with db.session() as session:
        held = await held_count(session, await scope_for(session, config, now))
    counts = {kind: await _run_step(db, config, now, kind, actor, batch_size)
              for kind in KIND_KEYS}
    async with db.session() as session:
        s = await scope_for(session, config, now)
        await audit.record(session, RUN_ACTION, now=now, actor=actor, object_kind=OBJECT_KIND,
                           details={"counts": counts, "held": held, "holds": len(s.holds)})
        await session.commit()
    return PurgeResult(counts, held)


async def _run_step(db: Database, config: DeploymentConfig, now: datetime, kind: str,
                    actor: str, batch_size: int) -> int:
    total = 0
    while True:
        async with db.session() as session:
            # Holds are read again for every batch: one added meanwhile applies at once.
            s = await scope_for(session, config, now)
            done = await STEPS[kind](session, s, batch_size)
            if done:
                await audit.record(session, batch_action(kind), now=now, actor=actor,
                                   object_kind=OBJECT_KIND, object_id=kind,
                                   details={"count": done,
                                            "cutoff": s.cutoffs[kind].isoformat()})
            await session.commit()
        total += done
        if done < batch_size:
            return total


async def runs_since(session: AsyncSession, since: datetime, *, actor: str) -> int:
    """How many finished runs by ``actor`` the audit log has from ``since`` on."""
    query = (select(func.count()).select_from(AuditEvent)
             .where(col(AuditEvent.action) == RUN_ACTION, col(AuditEvent.actor) == actor,
                    col(AuditEvent.at) >= since))
    return (await session.exec(query)).scalar_one()


async def purged_between(session: AsyncSession, since: datetime,
                         until: datetime) -> tuple[int, dict[str, int]]:
    """(runs, per-kind counts) of the gallring in ``[since, until)``, from the audit log."""
    actions = [batch_action(kind) for kind in KIND_KEYS]
    rows = await session.exec(
        select(AuditEvent.action, AuditEvent.details)
        .where(col(AuditEvent.at) >= since, col(AuditEvent.at) < until,
               col(AuditEvent.action).in_([*actions, RUN_ACTION])))
    runs, batches = 0, []
    for action, details in rows:
        if action == RUN_ACTION:
            runs += 1
        else:
            batches.append((action.removeprefix(ACTION_PREFIX), int(details.get("count", 0))))
    return runs, rules.sum_counts(batches)


# ---------------------------------------------------------------- the area × week picture

@dataclass(frozen=True)
class WeekCount:
    report_count: int
    severity_sum: int


async def weekly_picture(session: AsyncSession, config: DeploymentConfig, *,
                         first_week: date, last_week: date
                         ) -> dict[tuple[str, date, str], WeekCount]:
    """Reports per (area, ISO week, category) from the reports still there plus the
    weekly aggregates of purged ones, withdrawn reports left out as in the lägesbild.

    The category ``est.retention.ALL_CATEGORIES`` counts every report once. A purge
    leaves this picture unchanged for every week.
    """
    weeks = rules.week_bounds(first_week, last_week, config.tz)
    if not weeks:
        return {}
    r = _reports
    week = case(*[(and_(r.c.occurred_at >= since, r.c.occurred_at < until),
                   literal(monday.isoformat())) for monday, since, until in weeks])
    live = (select(r.c.id, r.c.area_key, r.c.severity, week.label("week"))
            .where(r.c.occurred_at >= weeks[0][1], r.c.occurred_at < weeks[-1][2],
                   r.c.withdrawn_at.is_(None))
            .subquery())
    totals: dict[tuple[str, date, str], list[int]] = defaultdict(lambda: [0, 0])

    def add(area: str, monday: date, category: str, count: int, severity: int | None) -> None:
        cell = totals[(area, monday, category)]
        cell[0] += int(count)
        cell[1] += int(severity or 0)

    everything = await session.exec(
        select(live.c.area_key, live.c.week, func.count(), func.sum(live.c.severity))
        .group_by(live.c.area_key, live.c.week))
    for area, monday, count, severity in everything:
        add(area, date.fromisoformat(monday), rules.ALL_CATEGORIES, count, severity)
    per_category = await session.exec(
        select(live.c.area_key, live.c.week, _categories.c.category_key, func.count(),
               func.sum(live.c.severity))
        .join(_categories, _categories.c.report_id == live.c.id)
        .group_by(live.c.area_key, live.c.week, _categories.c.category_key))
    for area, monday, category, count, severity in per_category:
        add(area, date.fromisoformat(monday), category, count, severity)
    a = _aggregates.c
    kept = await session.exec(
        select(a.area_key, a.week_start, a.category_key, func.sum(a.report_count),
               func.sum(a.severity_sum))
        .where(a.week_start >= weeks[0][0], a.week_start <= weeks[-1][0])
        .group_by(a.area_key, a.week_start, a.category_key))
    for area, monday, category, count, severity in kept:
        add(area, monday, category, count, severity)
    return {key: WeekCount(*values) for key, values in sorted(totals.items())}
