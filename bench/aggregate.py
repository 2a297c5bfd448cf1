"""How long the lägesbild, the briefing and the digest take, against a bare GROUP BY.

    python bench/aggregate.py --reports 100000 1000000 [--database-url URL] [--repeat 5]

For each N: the generated database (bench/generate.py; made first when the default
SQLite file is missing, or with ``--generate`` for a given URL, which empties it), then
in one process and against the same database, each measured ``--repeat`` times after one
warm-up run (the median is printed, and the first run):

- bare:      SELECT area_key, category_key, count(*) … GROUP BY over the last 7 days
             (reports joined with their categories), the baseline;
- lägesbild: the daily post to coordinator groups (bot.outbound.posts.compose_daily);
- /lagesbild: the picture in a coordinator's private chat (förmedlade + own egna);
- briefing:  the Friday utsättning (compose_briefing);
- digest:    the Thursday digest's data (digest_inputs: texts' data, matrix, bars), and
             the whole post with its two PNGs (compose_digest; matplotlib's time is
             the same at any N).

Each line gives the fastest and the median wall time, the first (cold) run, this
process's CPU time (with SQLite's thread; a PostgreSQL server's is not in it), the ratios
to the bare GROUP BY of the same run (fastest to fastest, median to median: on a busy
machine the fastest is the least disturbed), the peak memory allocated while composing
once (tracemalloc, run apart from the timing) and the process RSS after composing; with
two N, the growth from the first to the second.
``--profile`` adds the top of a cProfile of each composer.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import platform
import pstats
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clone
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.generate import DEFAULT_NOW, DEFAULT_SEED, default_url, generate  # noqa: E402
from bot.core.services import Services  # noqa: E402
from bot.features.lagesbild.picture import build_picture_pages  # noqa: E402
from bot.outbound import posts  # noqa: E402
from est.config import default_config_path, load_config  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Report, ReportCategory  # noqa: E402

TARGET_RATIO, TARGET_SECONDS, TARGET_MB = 3.0, 1.0, 200.0


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak instead
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bare_group_by(services: Services, now: datetime) -> int:
    """The baseline: reports per area and category over the same seven days."""
    query = (select(Report.area_key, ReportCategory.category_key, func.count())
             .join(ReportCategory, ReportCategory.report_id == Report.id)
             .where(Report.occurred_at > now - timedelta(days=7), Report.occurred_at <= now)
             .group_by(Report.area_key, ReportCategory.category_key))
    async with services.db.session() as session:
        return len((await session.exec(query)).all())


def composers(services: Services, now: datetime) -> dict:
    return {
        "bare GROUP BY": lambda: bare_group_by(services, now),
        "lägesbild (grupp)": lambda: posts.compose_daily(services, now),
        "/lagesbild (privat)": lambda: build_picture_pages(services, "polisen", False),
        "briefing": lambda: posts.compose_briefing(services, now),
        "digest (data)": lambda: posts.digest_inputs(services, now),
        "digest (med PNG)": lambda: posts.compose_digest(services, now),
    }


async def _timed(make) -> tuple[float, float]:
    """Wall time and this process's CPU time (SQLite's thread included, not a server's)."""
    started, cpu = time.perf_counter(), time.process_time()
    await make()
    return time.perf_counter() - started, time.process_time() - cpu


async def _peak_mb(make) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        await make()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


async def _profile(name: str, make, lines: int) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    await make()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    return f"--- cProfile: {name}\n" + out.getvalue()


async def explain(url: str, now: datetime) -> None:
    """The plan of every statement the composers run over reports (EXPLAIN [QUERY PLAN])."""
    config = load_config(default_config_path())
    db = Database(url)
    services = Services(config=config, db=db, clock=lambda: now)
    seen: dict[str, tuple] = {}

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        if "reports" in statement and not statement.startswith("EXPLAIN"):
            seen.setdefault(statement, parameters)

    try:
        for name, make in composers(services, now).items():
            seen.clear()
            await make()
            print(f"\n=== EXPLAIN: {name}")
            postgres = db.engine.dialect.name == "postgresql"
            for statement, parameters in seen.items():
                async with db.engine.connect() as connection:
                    rows = (await connection.exec_driver_sql(
                        ("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement,
                        parameters)).all()
                first = " ".join(statement.split())[:90]
                print(f"--- {first}…")
                for row in rows:
                    line = row[0] if postgres else row[-1]
                    if postgres or any(w in line for w in ("SEARCH", "SCAN", "B-TREE")):
                        print(f"    {line}")
    finally:
        await db.dispose()


async def measure(url: str, now: datetime, repeat: int, profile: bool) -> dict:
    config = load_config(default_config_path())
    db = Database(url)
    services = Services(config=config, db=db, clock=lambda: now)
    results = {}
    try:
        async with db.session() as session:
            total = (await session.exec(select(func.count()).select_from(Report))).one()[0]
            week = (await session.exec(select(func.count()).select_from(Report).where(
                Report.occurred_at > now - timedelta(days=7), Report.occurred_at <= now))
            ).one()[0]
            if db.engine.dialect.name == "sqlite":
                size = (await session.exec(text(
                    "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"
                ))).one()[0]
            else:
                size = (await session.exec(text(
                    "SELECT pg_database_size(current_database())"))).one()[0]
        results["_data"] = {"reports": total, "week": week, "size_mb": size / 2**20}
        for name, make in composers(services, now).items():
            first, _ = await _timed(make)
            runs = [await _timed(make) for _ in range(repeat)]
            times = [wall for wall, _ in runs]
            peak = await _peak_mb(make)
            gc.collect()
            results[name] = {"first": first, "median": statistics.median(times),
                             "min": min(times), "cpu": statistics.median(c for _, c in runs),
                             "peak_mb": peak, "rss_mb": _rss_mb()}
        if profile:
            results["_profiles"] = [await _profile(name, make, 18)
                                    for name, make in composers(services, now).items()
                                    if name != "bare GROUP BY"]
    finally:
        await db.dispose()
    return results


def _report(n: int, url: str, results: dict) -> None:
    data = results["_data"]
    bare = results["bare GROUP BY"]
    print(f"\n{n:,} rapporter begärda: {data['reports']:,} i databasen, {data['week']:,} "
          f"senaste 7 dygnen, {data['size_mb']:.0f} MB "
          f"({make_url(url).get_backend_name()}, belastning {os.getloadavg()[0]:.1f})")
    print(f"{'':21}{'min':>9}{'median':>10}{'första':>10}{'CPU':>10}{'× bare':>8}"
          f"{'(median)':>9}{'topp':>9}{'RSS efter':>10}")
    for name, r in results.items():
        if name.startswith("_"):
            continue
        print(f"{name:21}{r['min'] * 1000:>6.1f} ms{r['median'] * 1000:>7.1f} ms"
              f"{r['first'] * 1000:>7.1f} ms{r['cpu'] * 1000:>7.1f} ms"
              f"{r['min'] / bare['min']:>7.1f}×{r['median'] / bare['median']:>8.1f}×"
              f"{r['peak_mb']:>6.1f} MB{r['rss_mb']:>7.0f} MB")


def _targets(results: dict) -> None:
    bare = results["bare GROUP BY"]["min"]
    print("\nMål vid största N (min-tider: inom 3× bare, under 1 s; topp under 200 MB):")
    for name in ("lägesbild (grupp)", "/lagesbild (privat)", "briefing", "digest (data)"):
        r = results[name]
        ratio = r["min"] / bare
        verdict = ", ".join([
            f"{ratio:.1f}× {'✓' if ratio <= TARGET_RATIO else '✗'}",
            f"{r['min']:.3f} s {'✓' if r['min'] < TARGET_SECONDS else '✗'}",
            f"{r['peak_mb']:.0f} MB {'✓' if r['peak_mb'] < TARGET_MB else '✗'}",
        ])
        print(f"  {name:22}{verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--database-url", default=None,
                        help="measure here instead of bench/data/bench-<N>-<seed>.db "
                             "(with several N: use --generate, which empties it per N)")
    parser.add_argument("--generate", action="store_true",
                        help="(re)generate the data first, even when it exists")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print cProfile tops")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plans (of the largest N) and stop")
    args = parser.parse_args(argv)
    config = load_config(default_config_path())
    print(f"bench/aggregate.py · Python {platform.python_version()} · "
          f"{os.cpu_count()} kärnor (nproc) · {platform.platform()}")
    runs = []
    for n in args.reports:
        url = args.database_url or default_url(n, args.seed)
        missing = args.database_url is None and not Path(make_url(url).database).exists()
        if args.generate or missing:
            print(f"genererar {n:,} rapporter → {make_url(url).render_as_string()}",
                  file=sys.stderr)
            asyncio.run(generate(url, config, reports=n, seed=args.seed, now=DEFAULT_NOW,
                                 reset=True))
        upgrade(url)  # an older file gets this checkout's indexes (migration 0006)
        if args.explain:
            if n == args.reports[-1]:
                asyncio.run(explain(url, DEFAULT_NOW))
            continue
        results = asyncio.run(measure(url, DEFAULT_NOW, args.repeat, args.profile))
        _report(n, url, results)
        runs.append((n, results))
        for block in results.get("_profiles", []):
            print(block)
    if not runs:
        return 0
    if len(runs) >= 2:
        (n0, first), (n1, last) = runs[0], runs[-1]
        print(f"\nTillväxt {n0:,} → {n1:,} rapporter ({n1 / n0:.0f}× data):")
        for name in first:
            if not name.startswith("_"):
                print(f"  {name:22}{last[name]['min'] / first[name]['min']:>6.1f}× tid (min), "
                      f"topp {first[name]['peak_mb']:.1f} → {last[name]['peak_mb']:.1f} MB")
    _targets(runs[-1][1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
