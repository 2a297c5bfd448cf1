"""Dialog throughput: N reporters completing /rapport at once, against a bare PTB bot.

    python bench/dialogs.py [--reporters 20 100 500] [--slow-chat-delay 0.5]
                            [--database-url postgresql://…] [--profile DIR]

For each N, two processes are measured against the same fake Telegram over HTTP (the
strict limits: 30 msg/s, 1 msg/s per chat, 20/min per group, 429 beyond):
- ``lagesbild run`` (``python -m bot run``) on a fresh SQLite database (or the given
  one), with N registered reporters;
- bench/echo_bot.py, a bare python-telegram-bot bot with the same Bot API calls per
  update and nothing else: the baseline.
The N reporters start /rapport 25 a second (the dialogs open with new messages, and
Telegram allows 30 a second in all) and press each step's button as soon as the bot has
answered the previous one (11 updates a report). Printed: updates/s, the latency of
each step (press → the dialog shows the next step) p50/p95, 429s, the bot's CPU per
update and RSS; then the same with one reporter's chat slowed (each of its Bot API calls
answered ``--slow-chat-delay`` late), figures for the others. Ratios are against the
baseline of the same run.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clone
    sys.path.insert(0, str(ROOT))

from bench import telegram_bench as tb  # noqa: E402
from bench.dialog_steps import FULL_DIALOG, RECEIPT, UPDATES_PER_REPORT  # noqa: E402

FIRST_USER = 610_000
ANSWERS = {"sendmessage", "editmessagetext"}
STARTS_PER_S = 25
STALLED_AFTER_S = 20  # no answer to anyone for this long: the rest is stuck


@dataclass
class Reporter:
    user_id: int
    asked_at: float | None = None  # waiting for the bot's answer since
    latencies: list[float] = field(default_factory=list)
    done_at: float | None = None
    reports: int = 0


@dataclass
class Result:
    label: str
    updates_per_s: float
    p50_ms: float
    p95_ms: float
    hits_429: int
    cpu_ms_per_update: float
    rss_mb: float
    stalled: int


class Driver:
    """Presses each reporter's next button as soon as the bot's answer reaches the fake."""

    def __init__(self, fake, reporters: list[Reporter]) -> None:
        self.fake = fake
        self.by_chat = {r.user_id: r for r in reporters}
        self.events: queue.Queue[tuple[float, dict]] = queue.Queue()
        original = fake.handle

        def handle(method, params, files=None, *, token=None):
            status, body = original(method, params, files, token=token)
            if status == 200 and method.lower() in ANSWERS:
                self.events.put((time.monotonic(), body["result"]))
            return status, body

        fake.handle = handle

    def run(self, reporters: list[Reporter], deadline: float,
            again: Callable[[], bool] = lambda: False, think: float = 0.0) -> None:
        """Until every reporter has a receipt; while ``again()``, they start a new report.

        A reporter acts ``think`` seconds after the bot's answer (0: at once).
        """
        start = self.last_event = time.monotonic()
        unstarted = list(reversed(reporters))
        planned: list[tuple[float, int, Reporter, int | None, str]] = []  # (at, n, …)
        waiting = len(reporters)

        def act(reporter: Reporter, message_id: int | None, label: str) -> bool:
            reporter.asked_at = time.monotonic()
            if message_id is None:
                self.fake.send_text(reporter.user_id, "/rapport")
                return True
            try:
                self.fake.click(reporter.user_id, message_id, label)
                return True
            except AssertionError:  # edited again meanwhile; its newer version follows
                reporter.asked_at = None
                return False

        def plan(reporter: Reporter, message_id: int | None, label: str = "") -> None:
            if think <= 0:
                act(reporter, message_id, label)
            else:
                heapq.heappush(planned, (time.monotonic() + think, next(counter), reporter,
                                         message_id, label))

        counter = itertools.count()
        while waiting:
            # Reporters start /rapport STARTS_PER_S a second: the answers that open the
            # dialogs are new messages, and Telegram allows 30 of those a second in all.
            now = time.monotonic()
            due = len(reporters) - int((now - start) * STARTS_PER_S) - 1
            while len(unstarted) > max(due, 0):
                act(unstarted.pop(), None, "")
            while planned and planned[0][0] <= now:
                _, _, reporter, message_id, label = heapq.heappop(planned)
                if not act(reporter, message_id, label):
                    waiting -= 1
            wake = min([1 / STARTS_PER_S, deadline - now]
                       + ([planned[0][0] - now] if planned else []))
            try:
                at, message = self.events.get(timeout=max(0.0, wake))
            except queue.Empty:
                idle = time.monotonic() - self.last_event
                if time.monotonic() >= deadline or (idle > STALLED_AFTER_S and not planned):
                    return  # the rest never got an answer (a 429 the bot gave up on)
                continue
            self.last_event = at
            reporter = self.by_chat.get(message["chat"]["id"])
            if reporter is None or reporter.asked_at is None:
                continue
            if RECEIPT.search(message.get("text", "")):
                reporter.latencies.append(at - reporter.asked_at)
                reporter.asked_at, reporter.done_at = None, at
                reporter.reports += 1
                if again():
                    plan(reporter, None)
                else:
                    waiting -= 1
                continue
            rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
            shown = {button["text"] for row in rows for button in row}
            label = next((label for label in FULL_DIALOG if label in shown), None)
            if label is None:
                continue
            reporter.latencies.append(at - reporter.asked_at)
            reporter.asked_at = None
            if think <= 0:
                if not act(reporter, message["message_id"], label):
                    waiting -= 1
            else:
                plan(reporter, message["message_id"], label)


def measure(label: str, command: list[str], fake_users: list[int], *, database_url: str | None,
            slow_chat: int | None, slow_delay: float, timeout: float) -> Result:
    fake = tb.strict_fake(fake_users)
    reporters = [Reporter(u) for u in fake_users]
    if slow_chat is not None:
        fake.slow_chats[slow_chat] = slow_delay
    server = tb.serve(fake)
    log = Path(tempfile.mkstemp(prefix="lagesbild-dialogs-", suffix=".log")[1])
    env = tb.child_env(BOT_TOKEN=fake.token, TELEGRAM_API_URL=server.base_url,
                       LOG_LEVEL="WARNING", **({"DATABASE_URL": database_url}
                                               if database_url else {}))
    command = [part.format(token=fake.token, base_url=server.base_url) for part in command]
    process = tb.start(command, env, log)
    try:
        tb.wait_until_polling(fake, process, log)
        driver = Driver(fake, reporters)
        cpu_before = tb.cpu_seconds(process.pid)
        start = time.monotonic()
        driver.run(reporters, start + timeout)
        cpu = tb.cpu_seconds(process.pid) - cpu_before
        rss = tb.rss_mb(process.pid)
    finally:
        tb.stop(process, fake)
        server.stop()
    others = [r for r in reporters if r.user_id != slow_chat]
    finished = [r for r in others if r.done_at is not None]
    end = max((r.done_at for r in finished), default=start)
    latencies = [x for r in others for x in r.latencies]
    updates = sum(len(r.latencies) for r in reporters)
    return Result(label, len(finished) * UPDATES_PER_REPORT / max(end - start, 1e-9),
                  1000 * tb.percentile(latencies, 0.5), 1000 * tb.percentile(latencies, 0.95),
                  len(fake.rate_limit_hits), 1000 * cpu / max(updates, 1), rss,
                  len(others) - len(finished))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reporters", type=int, nargs="+", default=[20, 100, 500])
    parser.add_argument("--slow-chat-delay", type=float, default=0.5)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per run")
    parser.add_argument("--timeout", type=float, default=600, help="per run, seconds")
    parser.add_argument("--profile", type=Path,
                        help="write a cProfile of each lagesbild run into this folder")
    args = parser.parse_args()
    print(f"bench/dialogs.py on {tb.machine()}")
    print(f"{'run':<46}{'updates/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'429':>5}"
          f"{'CPU ms/upd':>11}{'RSS MB':>8}  ratio (updates/s vs echo)")
    base = FIRST_USER
    for count in args.reporters:
        for slowed in (False, True):
            users = list(range(base, base + count))
            base += count
            slow = users[0] if slowed else None
            suffix = f", chat {users[0]} +{args.slow_chat_delay:g}s/call" if slowed else ""
            echo_bot = [sys.executable, str(ROOT / "bench" / "echo_bot.py"),
                        "--token", "{token}", "--base-url", "{base_url}"]
            echo = measure(f"echo bot, {count} reporters{suffix}", echo_bot, users,
                           database_url=None, slow_chat=slow, slow_delay=args.slow_chat_delay,
                           timeout=args.timeout)
            url = args.database_url or tb.sqlite_url("dialogs")
            tb.prepare_database(url, users)
            command = [sys.executable, "-m", "bot", "run"]
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                out = args.profile / f"dialogs-{count}{'-slow' if slowed else ''}.prof"
                command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "bot", "run"]
            bot = measure(f"lagesbild, {count} reporters{suffix}", command, users,
                          database_url=url, slow_chat=slow, slow_delay=args.slow_chat_delay,
                          timeout=args.timeout)
            for result in (echo, bot):
                ratio = result.updates_per_s / echo.updates_per_s
                stalled = f"  ({result.stalled} did not finish)" if result.stalled else ""
                print(f"{result.label:<46.46}{result.updates_per_s:>10.1f}{result.p50_ms:>9.0f}"
                      f"{result.p95_ms:>9.0f}{result.hits_429:>5}"
                      f"{result.cpu_ms_per_update:>11.1f}{result.rss_mb:>8.0f}  {ratio:.2f}"
                      f"{stalled}", flush=True)


if __name__ == "__main__":
    main()
