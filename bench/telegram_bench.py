"""What bench/dialogs.py and bench/fanout.py share: the HTTP fake, processes, figures."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a clone
    sys.path.insert(0, str(ROOT))

from tests.fake_telegram import FakeTelegram, FakeTelegramServer  # noqa: E402
from tests.fake_telegram.ratelimit import enforce_telegram_limits  # noqa: E402

ENV_KEYS = ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "LAGESBILD_CONFIG", "LOG_LEVEL")


def strict_fake(user_ids: Iterable[int]) -> FakeTelegram:
    """A fake Telegram with the strict limits (30/s, 1/s per chat, 20/min per group, 429
    beyond) where each of ``user_ids`` has started the bot (no updates left pending)."""
    fake = FakeTelegram()
    enforce_telegram_limits(fake)
    for user_id in user_ids:
        fake.user(user_id, f"P{user_id}")
        fake.send_text(user_id, "/start")
    fake.handle("deleteWebhook", {"drop_pending_updates": True})
    return fake


def serve(fake: FakeTelegram) -> FakeTelegramServer:
    return FakeTelegramServer(fake).start()


def child_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ENV_KEYS and "proxy" not in k.lower()}
    return env | {"NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"} | values


def sqlite_url(name: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix=f"lagesbild-{name}-"))
    return f"sqlite:///{folder / 'bench.db'}"


def prepare_database(database_url: str, reporters: Iterable[int], *, role: str = "reporter",
                     org_key: str = "nattvandrarna") -> None:
    """Migrate and register the members directly (as `lagesbild invite` + /start would)."""
    from storage.db import Database
    from storage.members import add_member
    from storage.migrate import upgrade

    upgrade(database_url)

    async def add() -> None:
        db = Database(database_url)
        try:
            async with db.session() as session:
                for user_id in reporters:
                    await add_member(session, telegram_user_id=user_id,
                                     first_name=f"P{user_id}", role=role, org_key=org_key,
                                     now=datetime.now(UTC))
                await session.commit()
        finally:
            await db.dispose()

    asyncio.run(add())


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out)


def stop(process: subprocess.Popen, fake: FakeTelegram) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        fake.interrupt_polling()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_polling(fake: FakeTelegram, process: subprocess.Popen, log: Path,
                       timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            fake.wait_for_long_polls(1, 0.5)
            return
        except AssertionError:
            if process.poll() is not None or time.monotonic() > end:
                raise SystemExit(
                    f"the bot did not start polling:\n{log.read_text()[-3000:]}") from None


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def machine() -> str:
    try:
        model = next(line.split(":", 1)[1].strip()
                     for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "unknown CPU"
    return f"{model}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
