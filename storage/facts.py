"""Reports as facts for the analysis, and who is in the field where.

Only what the domain package needs leaves the database here: no reporter
identity, no free text.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from est.analysis import ReportFact
from est.config import DeploymentConfig
from storage.models import Group, Member, Report, ReportCategory


async def report_facts(
    session: AsyncSession, *, since: datetime, until: datetime, area_key: str | None = None,
    include_withdrawn: bool = False,
) -> list[tuple[ReportFact, str]]:
    """Reports that happened in ``[since, until)``, each with its sharing (egen/förmedlad)."""
    query = select(Report).where(col(Report.occurred_at) >= since,
                                 col(Report.occurred_at) < until)
    if area_key is not None:
        query = query.where(Report.area_key == area_key)
    if not include_withdrawn:
        query = query.where(col(Report.withdrawn_at).is_(None))
    reports = list((await session.exec(query.order_by(col(Report.occurred_at)))).all())
    categories: dict[int, list[str]] = defaultdict(list)
    if reports:
        rows = await session.exec(
            select(ReportCategory).where(col(ReportCategory.report_id).in_([r.id for r in reports]))
        )
        for row in rows:
            categories[row.report_id].append(row.category_key)
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
