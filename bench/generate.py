"""Generate a kommun's year of data for the benchmarks: reproducible, by bulk insert.

    python bench/generate.py --reports 100000 [--database-url URL] [--seed 2026]

N reports over 52 weeks ending at ``--now`` (default Friday 2026-11-27 19:00 Stockholm)
for the bundled config (est/examples/orebro.toml, or ``--config``): every area, place and
organisation, typed place names in several spellings, calm shifts, positive notes,
urgent and severe reports, egna and förmedlade, a few withdrawn; with each report its
finished dialog (as the bot leaves it). Plus members, events, level episodes, completed
checklists and insatser. The same seed and N give the same rows.

SQLite (by default ``bench/data/bench-<N>-<seed>.db``) or PostgreSQL (``--database-url
postgresql://…``; create your own database for it). ``--reset`` empties the database
first (a SQLite file is deleted, a PostgreSQL schema ``public`` is dropped); without it,
the database must hold no reports yet. Rows go in as executemany (SQLite) or COPY
(PostgreSQL) in chunks, with ids given here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clone
    sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from est.config import DeploymentConfig, default_config_path, load_config  # noqa: E402
from est.levels import Level  # noqa: E402
from est.report_draft import EGEN, FORMEDLAD, format_reference  # noqa: E402
from storage.db import create_engine  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

# Friday 19.00 in Stockholm (CET): when the briefing goes out.
DEFAULT_NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
DEFAULT_SEED = 2026
WEEKS = 52
CHUNK = 50_000

PEOPLE = (["1-2"] * 30 + ["3-5"] * 30 + ["6-10"] * 15 + ["11-20"] * 10 + ["21-50"] * 5
          + ["50+"] * 2 + ["0"] * 3 + [None] * 5)
SEVERITY = [None] * 15 + [1] * 30 + [2] * 30 + [3] * 18 + [4] * 7
TYPED_PLACES = [
    ["Torget", "torget", "Torget!", " torget "],
    ["Vid ICA", "vid ica", "Vid  ICA."],
    ["Busshållplatsen", "busshållplatsen"],
    ["Parkeringen bakom skolan", "parkeringen bakom skolan"],
    ["Fotbollsplanen"],
]
TEXTS = ["Grupp ungdomar samlades vid entrén.", "Lugnt men mycket folk ute.",
         "Krossad ruta i trapphuset.", "Oro efter matchen, polis på plats."]


def _sqlite_time(moment: datetime) -> str:
    """How storage.types.UTCDateTime is stored on SQLite (SQLAlchemy's DATETIME)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


@dataclass
class Summary:
    reports: int = 0
    categories: int = 0
    members: int = 0
    events: int = 0
    levels: int = 0
    checklists: int = 0
    insatser: int = 0
    last_7_days: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


class _Writer:
    """Bulk rows into one table: executemany on SQLite, COPY on PostgreSQL."""

    def __init__(self, raw, postgres: bool) -> None:
        self.raw, self.postgres = raw, postgres

    async def write(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        if self.postgres:
            await self.raw.copy_records_to_table(table, columns=columns, records=rows)
            return
        converted = [tuple(_sqlite_time(v) if isinstance(v, datetime) else v for v in row)
                     for row in rows]
        marks = ", ".join("?" for _ in columns)
        await self.raw.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", converted)


class Generator:
    def __init__(self, config: DeploymentConfig, *, reports: int, seed: int, now: datetime,
                 weeks: int = WEEKS) -> None:
        self.config, self.n, self.now, self.weeks = config, reports, now, weeks
        self.rng = random.Random(seed)
        self.start = now - timedelta(weeks=weeks)
        self.summary = Summary()
        cats = config.categories
        self.calm = [c.key for c in cats if c.calm]
        self.positive = [c.key for c in cats if c.positive]
        self.urgent = [c.key for c in cats if c.urgent and c.is_problem]
        self.problems = [c.key for c in cats if c.is_problem and not c.urgent]
        # Some problems are much more common than others.
        self.problem_weights = [max(1.0, 6.0 - i * 0.5) for i in range(len(self.problems))]
        self.areas = [a.key for a in config.areas]
        self.area_weights = [max(1.0, 4.0 - i * 0.5) for i in range(len(self.areas))]

    # --- members ---------------------------------------------------------------------

    def members(self) -> list[tuple]:
        rows, self.reporters, self.coordinators = [], {}, []
        joined = self.start - timedelta(days=30)
        member_id = 0
        for org in self.config.organisations:
            for role, count in (("reporter", 25), ("coordinator", 3)):
                for _ in range(count):
                    member_id += 1
                    rows.append((member_id, 5_000_000 + member_id, f"Person{member_id}", role,
                                 org.key, True, False, False, joined))
                    if role == "reporter":
                        self.reporters.setdefault(org.key, []).append(member_id)
                    else:
                        self.coordinators.append(member_id)
        member_id += 1
        rows.append((member_id, 5_000_000 + member_id, "Admin", "admin",
                     self.config.organisations[0].key, True, False, False, joined))
        self.summary.members = len(rows)
        return rows

    def _orgs_for(self, area_key: str) -> list[str]:
        return [o.key for o in self.config.organisations
                if (o.areas is None or area_key in o.areas) and o.key in self.reporters]

    # --- reports ---------------------------------------------------------------------

    def moments(self) -> list[datetime]:
        """N moments over the weeks, more in the evening, sorted (ids follow time)."""
        rng, span = self.rng, (self.now - self.start).total_seconds()
        found = []
        for _ in range(self.n):
            t = rng.random() * span
            if rng.random() < 0.4:  # evenings: pull towards 18–23 local time
                day = int(t // 86400)
                t = day * 86400 + rng.uniform(17, 22) * 3600
                if t >= span:
                    t = rng.random() * span
            found.append(self.start + timedelta(seconds=t))
        found.sort()
        return found

    def report_rows(self, first_id: int, moments: list[datetime]):
        rng, config = self.rng, self.config
        dialogs, reports, categories = [], [], []
        for offset, occurred in enumerate(moments):
            report_id = first_id + offset
            area = rng.choices(self.areas, self.area_weights)[0]
            places = config.area(area).places
            roll = rng.random()
            place_key = place_name = None
            if roll < 0.65 and places:
                # The first places of an area are the hot ones.
                place_key = rng.choices([p.key for p in places],
                                        [len(places) - i for i in range(len(places))])[0]
            elif roll < 0.80:
                place_name = rng.choice(rng.choice(TYPED_PLACES))
            org = rng.choice(self._orgs_for(area))
            member = rng.choice(self.reporters[org])
            kind = rng.random()
            if kind < 0.08 and self.calm:
                keys, severity = [self.calm[0]], None
            elif kind < 0.10 and self.positive:
                keys, severity = [self.positive[0]], None
            else:
                many = rng.choices([1, 2, 3], [65, 28, 7])[0]
                keys = list(dict.fromkeys(rng.choices(self.problems, self.problem_weights,
                                                      k=many)))
                if self.urgent and rng.random() < 0.015:
                    keys.append(rng.choice(self.urgent))
                severity = rng.choice(SEVERITY)
            received = min(occurred + timedelta(seconds=rng.randint(5, 1800)), self.now)
            withdrawn = received + timedelta(minutes=5) if rng.random() < 0.015 else None
            if withdrawn is not None and withdrawn > self.now:
                withdrawn = None
            sharing = FORMEDLAD if rng.random() < 0.8 else EGEN
            text_value = rng.choice(TEXTS) if rng.random() < 0.35 else None
            chat = 5_000_000 + member
            dialogs.append((report_id, "report", member, chat, "done", "summary", "{}", "[]",
                            received, received))
            reports.append((report_id, format_reference(occurred.year, report_id), member,
                            org, area, place_key, place_name, occurred, received, received,
                            rng.choice(PEOPLE), severity, text_value, sharing, withdrawn,
                            report_id))
            categories.extend((report_id, key) for key in keys)
            if occurred >= self.now - timedelta(days=7):
                self.summary.last_7_days += 1
        self.summary.reports += len(reports)
        self.summary.categories += len(categories)
        return dialogs, reports, categories

    # --- the rest --------------------------------------------------------------------

    def events(self) -> list[tuple]:
        rng, rows = self.rng, []
        day = self.start
        event_id = 0
        while day < self.now + timedelta(days=14):
            for _ in range(rng.randint(2, 5)):
                event_id += 1
                area = rng.choice([*self.areas, None])
                rows.append((event_id, area, day + timedelta(hours=rng.uniform(8, 22)),
                             f"Evenemang {event_id}", rng.choice(self.coordinators),
                             day - timedelta(days=3)))
            day += timedelta(days=7)
        self.summary.events = len(rows)
        return rows

    def levels(self) -> list[tuple]:
        """Per area an episode every few weeks: gult, sometimes rött, orange, grönt."""
        rng, rows, level_id = self.rng, [], 0
        for area in self.areas:
            at = self.start + timedelta(days=rng.uniform(0, 20))
            while at < self.now:
                steps = [(Level.GUL, rng.uniform(2, 6))]
                if rng.random() < 0.3:
                    steps += [(Level.ROD, rng.uniform(1, 2)), (Level.ORANGE, rng.uniform(2, 4))]
                steps.append((Level.GRON, rng.uniform(14, 40)))
                for level, days in steps:
                    if at >= self.now:
                        break
                    level_id += 1
                    rows.append((level_id, area, level.value, f"Genererat läge {level_id}",
                                 rng.choice(self.coordinators), at))
                    at += timedelta(days=days)
        self.summary.levels = len(rows)
        return rows

    def checklists(self) -> list[tuple]:
        rng, rows, checklist_id = self.rng, [], 0
        for area in self.areas:
            at = self.start + timedelta(days=rng.uniform(0, 14))
            while at < self.now:
                checklist_id += 1
                answers = {str(n): rng.randint(1, 4) for n in range(1, 21)}
                rows.append((checklist_id, area, rng.choice(self.coordinators),
                             json.dumps(answers), "done", at, at, at))
                at += timedelta(days=rng.uniform(10, 18))
        self.summary.checklists = len(rows)
        return rows

    def insatser(self) -> list[tuple]:
        rng, rows, insats_id = self.rng, [], 0
        for area in self.areas:
            places = self.config.area(area).places
            at = self.start
            while at < self.now + timedelta(days=14):
                insats_id += 1
                starts = at + timedelta(days=rng.uniform(0, 3))
                ends = starts + timedelta(hours=rng.uniform(2, 72))
                status = ("done" if ends < self.now else
                          "running" if starts <= self.now else "planned")
                if status == "done" and rng.random() < 0.1:
                    status = "cancelled"
                org = rng.choice(self._orgs_for(area))
                place = rng.choice(places).key if places and rng.random() < 0.7 else None
                rows.append((insats_id, area, place, None if place else "Vid centrum",
                             f"Extra närvaro {insats_id}", org, starts, ends, status,
                             rng.choice(self.coordinators), starts - timedelta(days=2)))
                at += timedelta(days=rng.uniform(10, 20))
        self.summary.insatser = len(rows)
        return rows


async def _reset(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        for suffix in ("", "-wal", "-shm"):
            await asyncio.to_thread(Path(f"{path}{suffix}").unlink, missing_ok=True)
        return
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def populate(url: str, config: DeploymentConfig, *, reports: int,
                   seed: int = DEFAULT_SEED, now: datetime = DEFAULT_NOW,
                   weeks: int = WEEKS, quiet: bool = True) -> Summary:
    """Insert the generated rows into an empty, migrated database."""
    started = time.perf_counter()
    gen = Generator(config, reports=reports, seed=seed, now=now, weeks=weeks)
    engine = create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    try:
        async with engine.begin() as connection:
            if (await connection.execute(text("SELECT count(*) FROM reports"))).scalar():
                raise SystemExit("the database already holds reports: use --reset")
            raw = (await connection.get_raw_connection()).driver_connection
            writer = _Writer(raw, postgres)
            await writer.write("members", ["id", "telegram_user_id", "first_name", "role",
                                           "org_key", "active", "paused", "feedback_opt_out",
                                           "joined_at"], gen.members())
            moments = gen.moments()
            for first in range(0, len(moments), CHUNK):
                dialogs, rows, categories = gen.report_rows(first + 1,
                                                            moments[first:first + CHUNK])
                await writer.write("dialogs", ["id", "kind", "member_id", "chat_id", "status",
                                               "step", "data", "handled_update_ids",
                                               "created_at", "updated_at"], dialogs)
                await writer.write("reports", [
                    "id", "reference", "member_id", "org_key", "area_key", "place_key",
                    "place_name", "occurred_at", "received_at", "updated_at", "people",
                    "severity", "text", "sharing", "withdrawn_at", "draft_id"], rows)
                await writer.write("report_categories", ["report_id", "category_key"],
                                   categories)
                if not quiet:
                    print(f"  {gen.summary.reports:>9,} rapporter", file=sys.stderr)
            await writer.write("events", ["id", "area_key", "starts_at", "title",
                                          "created_by_member_id", "created_at"], gen.events())
            await writer.write("area_levels", ["id", "area_key", "level", "reason",
                                               "set_by_member_id", "set_at"], gen.levels())
            await writer.write("checklists", ["id", "area_key", "member_id", "answers",
                                              "status", "created_at", "updated_at",
                                              "completed_at"], gen.checklists())
            await writer.write("insatser", ["id", "area_key", "place_key", "place_name", "what",
                                            "org_key", "starts_at", "ends_at", "status",
                                            "created_by_member_id", "created_at"],
                               gen.insatser())
            if postgres:
                for table in ("members", "dialogs", "reports", "events", "area_levels",
                              "checklists", "insatser"):
                    await connection.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"))
        # Fresh statistics (and on PostgreSQL the visibility map, for index-only scans),
        # as autovacuum would leave them after a while.
        async with engine.connect() as connection:
            if postgres:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM ANALYZE"))
            else:
                await connection.execute(text("ANALYZE"))
                await connection.commit()
    finally:
        await engine.dispose()
    gen.summary.seconds = time.perf_counter() - started
    return gen.summary


def default_url(reports: int, seed: int = DEFAULT_SEED) -> str:
    """The bench's own SQLite file (bench/data/ is ignored by git)."""
    folder = ROOT / "bench" / "data"
    folder.mkdir(exist_ok=True)
    return f"sqlite:///{folder / f'bench-{reports}-{seed}.db'}"


async def generate(url: str, config: DeploymentConfig, *, reports: int, seed: int,
                   now: datetime, reset: bool, quiet: bool = True) -> Summary:
    if reset:
        await _reset(url)
    await asyncio.to_thread(upgrade, url)
    return await populate(url, config, reports=reports, seed=seed, now=now, quiet=quiet)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--database-url", default=None,
                        help="SQLAlchemy URL (default: sqlite:///bench/data/bench-<N>-<seed>.db)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--now", type=datetime.fromisoformat, default=DEFAULT_NOW,
                        help="the end of the 52 weeks, ISO 8601 with offset")
    parser.add_argument("--config", default=str(default_config_path()))
    parser.add_argument("--reset", action="store_true",
                        help="empty the database first (drops a PostgreSQL schema public)")
    args = parser.parse_args(argv)
    url = args.database_url or default_url(args.reports, args.seed)
    if args.database_url is None:
        args.reset = True  # the bench's own file
    config = load_config(Path(args.config))
    summary = asyncio.run(generate(url, config, reports=args.reports, seed=args.seed,
                                   now=args.now, reset=args.reset, quiet=False))
    print(f"{summary.reports:,} rapporter ({summary.last_7_days:,} senaste 7 dygnen, "
          f"{summary.categories:,} kategorirader), {summary.members} medlemmar, "
          f"{summary.events} evenemang, {summary.levels} lägesändringar, "
          f"{summary.checklists} checklistor, {summary.insatser} insatser "
          f"på {summary.seconds:.1f} s → {make_url(url).render_as_string(hide_password=True)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
