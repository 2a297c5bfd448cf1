"""The Friday briefing fan-out: N members against Telegram's limits, reporters answered meanwhile.

    python bench/fanout.py [--members 2000 10000] [--reporters 20]
                           [--database-url postgresql://…] [--no-baseline] [--profile DIR]

The fake Telegram (over HTTP) enforces 30 msg/s overall, 1 msg/s per chat and 20/min per
group and answers 429 beyond. For each N:
- the ideal: N/30 s;
- the baseline, measured in the same run: a bare python-telegram-bot sender (ExtBot with
  PTB's AIORateLimiter at its 30/s defaults, max_retries=3, 64 concurrent sends, no
  database) sending one message to each of the N chats;
- lägesbild: a child process with the real wiring (build_application, the durable poller,
  the outbox) on a fresh SQLite database (or the given one) with N field members runs the
  Friday briefing (bot.outbound.schedule.send_plan: compose, recipients, claim, deliver),
  while ``--reporters`` of the members go through /rapport again and again, taking
  ``--think`` seconds for each step (their steps' latency p50/p95 is printed).
Printed: total time and its ratio to N/30 s and to the baseline, the fake's 429 count, the
child's RSS before and after the fan-out and its peak, and its CPU per message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clone
    sys.path.insert(0, str(ROOT))

from bench import telegram_bench as tb  # noqa: E402
from bench.dialogs import Driver, Reporter  # noqa: E402

FIRST_USER = 2_000_000


# ---------------------------------------------------------------- the child processes

def _report(**values) -> None:
    print(json.dumps(values), flush=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_lagesbild(token: str, base_url: str, database_url: str) -> None:
    """The bot side: poll updates (reporters) and, on "go", send the Friday briefing."""
    from sqlalchemy import text

    from bot.core.app import build_application
    from bot.core.services import Services
    from bot.core.updates import DurablePoller
    from bot.outbound import schedule
    from est.config import default_config_path, load_config
    from storage.db import Database

    config = load_config(default_config_path())
    services = Services(config=config, db=Database(database_url))
    application = build_application(services, token, base_url=base_url)
    poller = DurablePoller(application, services.inbox, services.clock)
    await application.initialize()
    await application.start()
    await poller.resume()
    polling = asyncio.create_task(poller.run())
    plan = next(p for p in schedule.plans(config) if p.kind == "briefing")
    occurrence = schedule.previous_occurrence(plan, config.tz, services.now())
    _report(ready=True, rss_mb=tb.rss_mb())
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    limiter = application.bot.rate_limiter
    cpu, began, answers = time.process_time(), time.monotonic(), limiter.sent["interactive"]
    row = await schedule.send_plan(services, application.bot, plan, occurrence)

    async def count(statuses: str) -> int:
        async with services.db.session() as session:
            return (await session.exec(text(
                f"SELECT count(*) FROM deliveries WHERE status IN ({statuses})"
                " AND broadcast_id = :b").bindparams(b=row.id))).one()[0] if row else 0

    # The schedule's minute tick may have taken over part of it (resume_unfinished, with
    # its own leases): done is when no delivery is left to send.
    while await count("'pending', 'sending'"):  # noqa: ASYNC110 - polls the database
        await asyncio.sleep(0.1)
    answers = limiter.sent["interactive"] - answers
    took, cpu = time.monotonic() - began, time.process_time() - cpu
    sent = await count("'sent'")
    _report(seconds=took, cpu_s=cpu, status=row.status if row else None, delivered=sent,
            answers=answers,
            rss_mb=tb.rss_mb(), peak_rss_mb=_peak_rss_mb(),
            waited={"/".join(k): v for k, v in application.bot.rate_limiter.waited.items()},
            round_trip_ms=1000 * application.bot.rate_limiter.answered_in["broadcast"]
            / max(application.bot.rate_limiter.sent["broadcast"], 1))
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    poller.stop()
    polling.cancel()
    await application.update_queue.join()
    await application.stop()
    await application.shutdown()
    await services.db.dispose()


async def run_baseline(token: str, base_url: str, chats: list[int]) -> None:
    """A bare PTB fan-out: AIORateLimiter's 30/s, 64 sends at a time, nothing stored."""
    from telegram.ext import AIORateLimiter, ExtBot

    bot = ExtBot(token, base_url=base_url, rate_limiter=AIORateLimiter(max_retries=3))
    await bot.initialize()
    _report(ready=True, rss_mb=tb.rss_mb())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    todo, failed = iter(chats), 0

    async def worker() -> None:
        nonlocal failed
        for chat_id in todo:
            try:
                await bot.send_message(chat_id, "Fredagens utsättning (baslinje)")
            except Exception:  # counted, not fatal for a baseline
                failed += 1

    cpu, began = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(64)))
    _report(seconds=time.monotonic() - began, cpu_s=time.process_time() - cpu,
            failed=failed, rss_mb=tb.rss_mb(), peak_rss_mb=_peak_rss_mb())
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await bot.shutdown()


# ---------------------------------------------------------------- the parent

class Child:
    def __init__(self, arguments: list[str], env: dict[str, str], log: Path,
                 profile: Path | None = None) -> None:
        prefix = [sys.executable]
        if profile is not None:
            prefix += ["-m", "cProfile", "-o", str(profile)]
        with log.open("wb") as err:
            self.popen = subprocess.Popen([*prefix, str(Path(__file__)), *arguments], cwd=ROOT,
                                          env=env, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=err, text=True)
        self.log = log

    def read(self) -> dict:
        line = self.popen.stdout.readline()
        if not line:
            self.popen.wait()
            raise SystemExit(f"child died:\n{self.log.read_text()[-3000:]}")
        return json.loads(line)

    def say(self, word: str) -> None:
        self.popen.stdin.write(word + "\n")
        self.popen.stdin.flush()

    def finish(self) -> None:
        if self.popen.poll() is None:
            try:
                self.say("stop")
                self.popen.wait(timeout=60)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.popen.kill()
                self.popen.wait()


def baseline(count: int) -> dict:
    chats = list(range(FIRST_USER, FIRST_USER + count))
    fake = tb.strict_fake(chats)
    server = tb.serve(fake)
    log = Path(tempfile.mkstemp(prefix="lagesbild-fanout-", suffix=".log")[1])
    chat_file = Path(tempfile.mkstemp(prefix="lagesbild-chats-", suffix=".json")[1])
    chat_file.write_text(json.dumps(chats))
    child = Child(["--child", "baseline", "--token", fake.token, "--base-url", server.base_url,
                   "--chats", str(chat_file)], tb.child_env(), log)
    try:
        before = child.read()
        child.say("go")
        result = child.read()
    finally:
        child.finish()
        server.stop()
    return result | {"rss_before_mb": before["rss_mb"], "hits_429": len(fake.rate_limit_hits),
                     "delivered": fake.sent_count()}


def lagesbild(count: int, reporters: int, think: float, database_url: str | None,
              profile: Path | None) -> dict:
    members = list(range(FIRST_USER, FIRST_USER + count))
    fake = tb.strict_fake(members)
    url = database_url or tb.sqlite_url("fanout")
    tb.prepare_database(url, members)
    server = tb.serve(fake)
    log = Path(tempfile.mkstemp(prefix="lagesbild-fanout-", suffix=".log")[1])
    env = tb.child_env(LOG_LEVEL="WARNING")
    child = Child(["--child", "lagesbild", "--token", fake.token, "--base-url",
                   server.base_url, "--database-url", url], env, log, profile)
    in_dialog = [Reporter(u) for u in members[:reporters]]
    try:
        before = child.read()
        fanning_out = threading.Event()
        fanning_out.set()
        driver = Driver(fake, in_dialog)
        drive = threading.Thread(target=driver.run, args=(in_dialog, time.monotonic() + 3600,
                                                          fanning_out.is_set, think),
                                 daemon=True)
        child.say("go")
        drive.start()
        result = child.read()
        fanning_out.clear()
        drive.join(timeout=120)
    finally:
        child.finish()
        server.stop()
    steps = [x for r in in_dialog for x in r.latencies]
    return result | {"rss_before_mb": before["rss_mb"], "hits_429": len(fake.rate_limit_hits),
                     "steps": len(steps),
                     "reports": sum(r.reports for r in in_dialog),
                     "p50_ms": 1000 * tb.percentile(steps, 0.5),
                     "p95_ms": 1000 * tb.percentile(steps, 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--reporters", type=int, default=20,
                        help="members in a /rapport dialog during the fan-out")
    parser.add_argument("--think", type=float, default=2.0,
                        help="seconds a reporter takes for each step (default 2)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per run")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--profile", type=Path, help="cProfile the lagesbild child into DIR")
    parser.add_argument("--child", choices=["lagesbild", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--chats", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "lagesbild":
        asyncio.run(run_lagesbild(args.token, args.base_url, args.database_url))
        return
    if args.child == "baseline":
        asyncio.run(run_baseline(args.token, args.base_url, json.loads(args.chats.read_text())))
        return
    print(f"bench/fanout.py on {tb.machine()}")
    for count in args.members:
        ideal = count / 30
        print(f"\n{count} members: ideal N/30 = {ideal:.1f} s")
        base = None if args.no_baseline else baseline(count)
        if base:
            print(f"  bare PTB (AIORateLimiter): {base['seconds']:7.1f} s = "
                  f"{base['seconds'] / ideal:.2f}× ideal; 429: {base['hits_429']}; "
                  f"delivered {base['delivered']}/{count}"
                  f" ({base['failed']} given up); RSS {base['rss_before_mb']:.0f} → "
                  f"{base['rss_mb']:.0f} MB", flush=True)
        profile = None
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            profile = args.profile / f"fanout-{count}.prof"
        bot = lagesbild(count, args.reporters, args.think, args.database_url, profile)
        vs_base = f", {bot['seconds'] / base['seconds']:.2f}× bare PTB" if base else ""
        print(f"  lägesbild:                 {bot['seconds']:7.1f} s = "
              f"{bot['seconds'] / ideal:.2f}× ideal{vs_base}; 429: {bot['hits_429']}; "
              f"delivered {bot['delivered']}/{count}")
        everything = (count + bot["answers"]) / 30
        print(f"    with the {bot['answers']} messages the reporters got meanwhile (the same "
              f"30/s): ideal {everything:.1f} s, {bot['seconds'] / everything:.2f}× that")
        print(f"    RSS {bot['rss_before_mb']:.0f} MB before → {bot['rss_mb']:.0f} MB after "
              f"(peak {bot['peak_rss_mb']:.0f} MB); CPU {1000 * bot['cpu_s'] / count:.1f} ms "
              f"per message")
        waited = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(bot["waited"].items()))
        print(f"    waited for limits (summed over requests): {waited}; a message's round "
              f"trip {bot['round_trip_ms']:.0f} ms on average")
        print(f"    {args.reporters} reporters in /rapport meanwhile ({args.think:g} s a step): "
              f"{bot['reports']} reports,"
              f" {bot['steps']} steps, p50 {bot['p50_ms']:.0f} ms, p95 {bot['p95_ms']:.0f} ms",
              flush=True)


if __name__ == "__main__":
    main()
