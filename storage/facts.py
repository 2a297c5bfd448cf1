"""Reports as facts for the analysis, and who is in the field where.

Only what the domain package needs leaves the database here: no reporter
identity, no free text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import MappingProxyType

from sqlalchemy import BigInteger, and_, case, cast, func, literal_column, null, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.analysis import PlaceCount, ReportFact, rules_for
from est.config import Category, DeploymentConfig
from est.lagesbild import HISTORY_WEEKS, PERIOD, window_end
from est.report_draft import FORMEDLAD
from est.tallies import NOTABLE_MAX, NOTABLE_SEVERITY, WEEK, KindCount, OrgCount, ReportTallies
from storage.models import Group, Member, Report, ReportCategory


async def report_facts(
    session: AsyncSession, *, since: datetime, until: datetime, area_key: str | None = None,
    include_withdrawn: bool = False,
) -> list[tuple[ReportFact, str]]:
    """Reports that happened in ``[since, until)``, each with its sharing (egen/förmedlad).

    Every report becomes an object here: for a few days of one area (the alerts). The
    lägesbild, the briefing and the digest count in SQL instead (``report_tallies``).
    """
    where = [col(Report.occurred_at) >= since, col(Report.occurred_at) < until]
    if area_key is not None:
        where.append(Report.area_key == area_key)
    if not include_withdrawn:
        where.append(col(Report.withdrawn_at).is_(None))
    query = select(Report).where(*where)
    reports = list((await session.exec(query.order_by(col(Report.occurred_at)))).all())
    categories: dict[int, list[str]] = defaultdict(list)
    if reports:
        # The same filter joined, never a parameter per report (asyncpg allows 32,767).
        rows = await session.exec(
            select(ReportCategory.report_id, ReportCategory.category_key)
            .join(Report, col(Report.id) == col(ReportCategory.report_id)).where(*where)
        )
        for report_id, category_key in rows:
            categories[report_id].append(category_key)
    return [
        (
            ReportFact(
                report_id=r.id, area_key=r.area_key, place_key=r.place_key,
                place_name=r.place_name, org_key=r.org_key,
                category_keys=tuple(sorted(categories[r.id])), people=r.people,
                severity=r.severity, occurred_at=r.occurred_at,
                withdrawn=r.withdrawn_at is not None,
            ),
            r.sharing,
        )
        for r in reports
    ]


# --- counting in SQL ---------------------------------------------------------------------
#
# The lägesbild, the briefing and the digest show counts over weeks of reports and only a
# few single reports. They are counted here with GROUP BY over the window's reports
# (``reports.occurred_at`` and the covering index of migration 0006), with one parameter
# per configured category or bound, never one per report. What comes back is the input of
# est.tallies, which the same compose functions read; est.tallies.tally_facts makes the
# same tallies in Python (tests/test_aggregation_sql.py holds them to being equal).

_BITS = 62  # categories per mask column (a signed 64-bit integer)
_RC = ReportCategory


def visible_clause(viewer_org_key: str | None, in_group: bool):
    """``est.lagesbild.visible_facts`` as SQL: est.visibility.visible_to_coordinator with
    the viewer's organisation, or with none (förmedlade only) in a group or without one."""
    viewer = "" if in_group or not viewer_org_key else viewer_org_key
    return or_(Report.sharing == FORMEDLAD, Report.org_key == viewer)


def _mask_chunks(config: DeploymentConfig) -> list[list[Category]]:
    cats = list(config.categories)
    return [cats[i:i + _BITS] for i in range(0, len(cats), _BITS)] or [[]]


def _category_mask(chunk: list[Category]):
    """The report's configured categories of ``chunk`` as a bit mask (bit i: chunk[i])."""
    if not chunk:
        return literal_column("0")
    bits = case({c.key: literal_column(str(1 << i)) for i, c in enumerate(chunk)},
                value=col(_RC.category_key), else_=literal_column("0"))
    total = select(func.coalesce(func.sum(bits), 0)).where(
        col(_RC.report_id) == col(Report.id)).scalar_subquery()
    return cast(total, BigInteger)


class _Masks:
    """Decodes the mask columns into category keys in config order (cached per mask)."""

    def __init__(self, config: DeploymentConfig) -> None:
        self.chunks = _mask_chunks(config)
        self._known: dict[tuple[int, ...], tuple[str, ...]] = {}

    def columns(self) -> list:
        return [_category_mask(chunk).label(f"mask{i}") for i, chunk in enumerate(self.chunks)]

    def keys(self, masks: Sequence[int]) -> tuple[str, ...]:
        known = tuple(masks)
        found = self._known.get(known)
        if found is None:
            found = tuple(c.key for chunk, mask in zip(self.chunks, known, strict=True)
                          for i, c in enumerate(chunk) if int(mask) >> i & 1)
            self._known[known] = found
        return found


def _week_column(end: datetime, weeks: int, period: timedelta, older: bool):
    """Week k of ``[end - (k + 1) period, end - k period)``; None before the weeks when
    the window reaches further back (``older``), else the WHERE keeps the window."""
    occurred = col(Report.occurred_at)
    whens = [(occurred >= end - (k + 1) * period, literal_column(str(k)))
             for k in range(weeks if older else weeks - 1)]
    if not whens:
        return literal_column("0")
    return case(*whens, else_=None if older else literal_column(str(weeks - 1)))


def _window(end: datetime, start: datetime, viewer_org_key: str | None, in_group: bool,
            area_key: str | None) -> list:
    where = [col(Report.occurred_at) >= start, col(Report.occurred_at) < end,
             col(Report.withdrawn_at).is_(None), visible_clause(viewer_org_key, in_group)]
    if area_key is not None:
        where.append(Report.area_key == area_key)
    return where


async def _rows(session: AsyncSession, query):
    """Plain rows through the session's connection: no ORM result machinery per row."""
    return (await (await session.connection()).execute(query)).all()


async def _no_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT for this transaction. The per-report category lookup makes the
    planner's estimate pass jit_above_cost, and compiling then took 270 ms of a 630 ms
    count over 1M reports (EXPLAIN ANALYZE) for no gain."""
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL jit = off"))


def _fenced(query):
    """``OFFSET 0``: the subquery is not merged into the outer query, so its per-report
    category lookup runs once per report, not again for the outer WHERE and GROUP BY."""
    return query.offset(0).subquery()


async def report_tallies(
    session: AsyncSession, config: DeploymentConfig, *, end: datetime, weeks: int,
    kind_weeks: int = 1, viewer_org_key: str | None = None, in_group: bool = False,
    area_key: str | None = None, period: timedelta = WEEK, notable_max: int = NOTABLE_MAX,
    with_notable: bool = True, with_orgs: bool = True,
    columns: Sequence[tuple[datetime, datetime]] = (),
) -> ReportTallies:
    """est.tallies.tally_facts of the reports this viewer may see, counted in SQL.

    Three GROUP BY queries, each reading a report's categories once (the reports by
    ``occurred_at``, their categories by the primary key of report_categories):
    - the places: problem reports of every week per area, place, highest category
      weight, people and severity (also the problem counts per week);
    - the kinds of the first ``kind_weeks``: per area, set of categories (a bit mask),
      severity >= NOTABLE_SEVERITY and, in week 0, organisation;
    - the notable reports of week 0, the first ``notable_max`` per area.
    With ``columns`` (contiguous ``[start, stop)`` ending at ``end``, e.g.
    est.digest.matrix_bounds) the first query also counts the problem reports per (area,
    column) into ``column_counts``.
    """
    await _no_jit(session)
    masks = _Masks(config)
    start = end - weeks * period
    where = _window(end, start, viewer_org_key, in_group, area_key)
    places, column_counts = await _place_counts(session, config, end, weeks, period,
                                                viewer_org_key, in_group, area_key, columns)

    kind_weeks = max(1, min(kind_weeks, weeks))
    kind_where = _window(end, end - kind_weeks * period, viewer_org_key, in_group, area_key)
    week0 = col(Report.occurred_at) >= end - period
    severe = case((and_(week0, col(Report.severity) >= NOTABLE_SEVERITY),
                   literal_column("1")), else_=literal_column("0"))
    org = case((week0, col(Report.org_key)), else_=None) if with_orgs else null()
    rows = _fenced(select(
        col(Report.area_key).label("area"),
        _week_column(end, kind_weeks, period, older=False).label("week"),
        org.label("org"), severe.label("severe"), *masks.columns()).where(*kind_where))
    mask_cols = [rows.c[f"mask{i}"] for i in range(len(masks.chunks))]
    groups = [rows.c.area, rows.c.week, rows.c.org, rows.c.severe, *mask_cols]
    kinds: dict[tuple, int] = defaultdict(int)
    orgs: dict[tuple, int] = defaultdict(int)
    problem_keys = {c.key for c in config.categories if c.is_problem}
    for area, week, org_key, is_severe, *row_masks, n in await _rows(
            session, select(*groups, func.count()).group_by(*groups)):
        keys = masks.keys(row_masks)
        kinds[area, int(week), keys, bool(is_severe)] += int(n)
        if with_orgs and int(week) == 0:
            orgs[area, org_key, not problem_keys.isdisjoint(keys)] += int(n)

    notable = (await _notable(session, config, where, week0, notable_max)
               if with_notable else {})
    return ReportTallies(
        end=end, weeks=weeks, period=period, kind_weeks=kind_weeks,
        kinds=tuple(KindCount(*key, count=n) for key, n in kinds.items()),
        orgs=tuple(OrgCount(*key, count=n) for key, n in orgs.items()),
        places=places, notable=MappingProxyType(notable),
        column_counts=MappingProxyType(column_counts))


async def _place_counts(
    session: AsyncSession, config: DeploymentConfig, end: datetime, weeks: int,
    period: timedelta, viewer_org_key: str | None, in_group: bool, area_key: str | None,
    columns: Sequence[tuple[datetime, datetime]] = (),
) -> tuple[tuple[PlaceCount, ...], dict[tuple[str, int], int]]:
    """Problem reports per area, week, place and the three factors of their weight: the
    highest category weight, the crowd factor (people) and the severity factor; and with
    ``columns`` the problem reports per (area, column) in the same pass (reports older
    than the weeks count in their column only)."""
    weights = sorted({c.weight for c in config.categories if c.is_problem})
    if not weights:
        return (), {}
    rules = rules_for(config)
    crowds = sorted({*rules.crowd_factors.values(), 1.0})
    severities = sorted({*rules.severity_factors.values(), 1.0})
    crowd = case({people: literal_column(str(crowds.index(f)))
                  for people, f in rules.crowd_factors.items() if people},
                 value=col(Report.people), else_=literal_column(str(crowds.index(1.0))))
    severity = case({sev: literal_column(str(severities.index(f)))
                     for sev, f in rules.severity_factors.items()},
                    value=col(Report.severity), else_=literal_column(str(severities.index(1.0))))
    rank = case({c.key: literal_column(str(weights.index(c.weight)))
                 for c in config.categories if c.is_problem},
                value=col(_RC.category_key), else_=None)
    heaviest = select(func.max(rank)).where(
        col(_RC.report_id) == col(Report.id)).scalar_subquery()
    start = end - weeks * period
    occurred = col(Report.occurred_at)
    column = literal_column("NULL")
    if columns:
        if columns[-1][1] != end:
            raise ValueError("the columns must end where the weeks end")
        start = min(start, columns[0][0])
        column = case((occurred < columns[0][0], None),
                      *((occurred < stop, literal_column(str(k)))
                        for k, (_, stop) in enumerate(columns[:-1])),
                      else_=literal_column(str(len(columns) - 1)))
    rows = _fenced(select(
        col(Report.area_key).label("area"),
        _week_column(end, weeks, period, older=start < end - weeks * period).label("week"),
        column.label("col"),
        col(Report.place_key).label("place_key"), col(Report.place_name).label("place_name"),
        heaviest.label("weight"), crowd.label("crowd"), severity.label("severity"),
        occurred.label("occurred_at"),
    ).where(*_window(end, start, viewer_org_key, in_group, area_key)))

    def within(value):  # what only the weeks need collapses before them
        return case((rows.c.week.is_(None), None), else_=value)

    groups = [rows.c.area, rows.c.week, rows.c.col, within(rows.c.place_key),
              within(rows.c.place_name), within(rows.c.weight), within(rows.c.crowd),
              within(rows.c.severity)]
    query = (select(*groups, func.count(), func.min(within(rows.c.occurred_at)))
             .where(rows.c.weight.is_not(None)).group_by(*groups))
    places: dict[tuple, list] = {}
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for row in await _rows(session, query):
        if row[2] is not None:
            counts[row[0], row[2]] += row[8]
        if row[1] is None:
            continue
        key = (row[0], row[1], *row[3:8])
        found = places.get(key)
        if found is None:
            places[key] = [row[8], row[9]]
        else:  # the same place and week in two columns
            found[0] += row[8]
            found[1] = min(found[1], row[9])
    return (tuple(PlaceCount(area, int(week), place_key, place_name, weights[int(weight)],
                             crowds[int(crowd_at)], severities[int(severity_at)],
                             count=int(n), first_at=first)
                  for (area, week, place_key, place_name, weight, crowd_at, severity_at),
                  (n, first) in places.items()),
            {(area, int(column)): int(n) for (area, column), n in counts.items()})


async def _notable(session: AsyncSession, config: DeploymentConfig, where: list, week0,
                   limit: int) -> dict[str, tuple[ReportFact, ...]]:
    """The first ``limit`` notable reports of week 0 per area, as shown: urgent first, then
    newest first (est.tallies.notable_order; equal times by id, the order they came in)."""
    problem_keys = [c.key for c in config.categories if c.is_problem]
    urgent_keys = [c.key for c in config.categories if c.is_problem and c.urgent]
    # 2: an urgent problem category, 1: a problem category, else 0 (one lookup a report).
    kind = select(func.max(case((col(_RC.category_key).in_(urgent_keys), literal_column("2")),
                                (col(_RC.category_key).in_(problem_keys), literal_column("1")),
                                else_=literal_column("0")))).where(
        col(_RC.report_id) == col(Report.id)).scalar_subquery()
    flagged = _fenced(select(
        col(Report.id).label("id"), col(Report.area_key).label("area"),
        col(Report.occurred_at).label("occurred_at"), col(Report.severity).label("severity"),
        kind.label("kind"),
    ).where(*where, week0))
    candidates = _fenced(select(
        flagged.c.id, flagged.c.area, flagged.c.occurred_at,
        case((flagged.c.kind == literal_column("2"), literal_column("1")),
             else_=literal_column("0")).label("urgent"),
    ).where(or_(flagged.c.kind == literal_column("2"),
                and_(flagged.c.kind == literal_column("1"),
                     flagged.c.severity >= NOTABLE_SEVERITY))))
    ranked = select(candidates.c.id, func.row_number().over(
        partition_by=candidates.c.area,
        order_by=(candidates.c.urgent.desc(), candidates.c.occurred_at.desc(),
                  candidates.c.id)).label("rank")).subquery()
    order = {report_id: rank for report_id, rank in await _rows(
        session, select(ranked.c.id, ranked.c.rank).where(ranked.c.rank <= limit))}
    if not order:
        return {}
    # At most ``limit`` per area: a bounded number of ids.
    categories: dict[int, list[str]] = defaultdict(list)
    for report_id, key in await session.exec(
            select(_RC.report_id, _RC.category_key).where(col(_RC.report_id).in_(order))):
        categories[report_id].append(key)
    found: dict[str, list[tuple[int, ReportFact]]] = defaultdict(list)
    # No free text here: it is read only where it may be shown (report_texts_of).
    query = select(Report.id, Report.area_key, Report.place_key, Report.place_name,
                   Report.org_key, Report.people, Report.severity, Report.occurred_at
                   ).where(col(Report.id).in_(order))
    for report_id, area, place_key, place_name, org, people, severity, occurred_at in \
            await session.exec(query):
        found[area].append((order[report_id], ReportFact(
            report_id=report_id, area_key=area, place_key=place_key, place_name=place_name,
            org_key=org, category_keys=tuple(sorted(categories[report_id])), people=people,
            severity=severity, occurred_at=occurred_at)))
    return {area: tuple(fact for _, fact in sorted(facts, key=lambda pair: pair[0]))
            for area, facts in found.items()}


async def picture_tallies(
    session: AsyncSession, config: DeploymentConfig, *, now: datetime,
    viewer_org_key: str | None = None, in_group: bool = False, area_key: str | None = None,
    with_texts: bool = True,
) -> tuple[ReportTallies, dict[int, str]]:
    """What ``est.lagesbild.compose_picture_from_tallies`` reads of the reports: the
    tallies of the ``HISTORY_WEEKS`` weeks up to ``window_end(now)`` this viewer may see,
    and the free text of the notable reports it shows, read only when it may be shown
    (``with_texts``): what is never read can never leak."""
    tallies = await report_tallies(session, config, end=window_end(now), weeks=HISTORY_WEEKS,
                                   period=PERIOD, viewer_org_key=viewer_org_key,
                                   in_group=in_group, area_key=area_key)
    shown = [fact.report_id for facts in tallies.notable.values() for fact in facts]
    texts = await report_texts_of(session, shown) if with_texts else {}
    return tallies, texts


async def report_texts_of(session: AsyncSession, report_ids: Sequence[int]) -> dict[int, str]:
    """Free text of the given (shown, hence few) reports that have any."""
    if not report_ids:
        return {}
    query = select(Report.id, Report.text).where(col(Report.id).in_(list(report_ids)),
                                                 col(Report.text).is_not(None))
    return {report_id: text for report_id, text in await session.exec(query) if text}


async def recent_facts(
    session: AsyncSession, config: DeploymentConfig, *, after: datetime, until: datetime,
    viewer_org_key: str | None = None, in_group: bool = False,
) -> list[ReportFact]:
    """Visible, not withdrawn reports with ``after < occurred_at <= until`` that have a
    configured category, as facts (the suggestion's few days: its recency is per report)."""
    await _no_jit(session)
    masks = _Masks(config)
    query = select(Report.id, Report.area_key, Report.org_key, Report.people,
                   Report.severity, Report.occurred_at, *masks.columns()).where(
        col(Report.occurred_at) > after, col(Report.occurred_at) <= until,
        col(Report.withdrawn_at).is_(None), visible_clause(viewer_org_key, in_group))
    facts = []
    for report_id, area, org, people, severity, occurred_at, *row_masks in \
            await _rows(session, query):
        keys = masks.keys(row_masks)
        if keys:
            facts.append(ReportFact(
                report_id=report_id, area_key=area, place_key=None, place_name=None,
                org_key=org, category_keys=tuple(sorted(keys)), people=people,
                severity=severity, occurred_at=occurred_at))
    return facts


async def field_members_for_area(
    session: AsyncSession, config: DeploymentConfig, area_key: str
) -> list[Member]:
    """Active, unpaused reporters whose organisation works in the area."""
    orgs = [o.key for o in config.organisations if o.areas is None or area_key in o.areas]
    if not orgs:
        return []
    query = select(Member).where(
        Member.role == "reporter", col(Member.active).is_(True), col(Member.paused).is_(False),
        col(Member.org_key).in_(orgs),
    )
    return list((await session.exec(query.order_by(col(Member.id)))).all())


async def coordinator_groups(session: AsyncSession) -> list[Group]:
    query = select(Group).where(Group.kind == "coordinator", col(Group.active).is_(True))
    return list((await session.exec(query.order_by(col(Group.id)))).all())


async def coordinators(session: AsyncSession) -> list[Member]:
    query = select(Member).where(col(Member.role).in_(["coordinator", "admin"]),
                                 col(Member.active).is_(True))
    return list((await session.exec(query.order_by(col(Member.id)))).all())
