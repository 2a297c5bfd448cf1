"""The Friday utsättning from the bot as a process, with its clock set to Friday 18.59.

``python -m bot run`` runs under libfaketime with an offset that the fake Telegram and
the test's own database writes share: one shifted timeline. The bot starts at 18.59.30
local, everyone is registered before 19.00, and the test then waits for conditions on
the fake's state (or the bot's log), never for a sleep's length.
"""

from __future__ import annotations

import asyncio
import glob
import math
import re
import signal
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from storage.db import Database
from storage.members import add_member, create_invite
from tests.fake_telegram import FakeTelegram
from tests.test_process import Run, bot_env, server, sql

# Preloaded directly, not through the ``faketime`` wrapper: that one forks the program as
# its child and does not pass SIGTERM on.
LIBFAKETIME = next((path for pattern in ("/usr/lib/*/faketime/libfaketime.so.1",
                                         "/usr/lib*/faketime/libfaketime.so.1",
                                         "/usr/local/lib/faketime/libfaketime.so.1")
                     for path in sorted(glob.glob(pattern))), None)
pytestmark = pytest.mark.skipif(
    LIBFAKETIME is None,
    reason="needs libfaketime (apt-get install faketime) to set the bot process's clock "
           "to Friday 18.59")

STOCKHOLM = ZoneInfo("Europe/Stockholm")
BRIEFING_AT = datetime(2026, 11, 27, 19, 0, tzinfo=STOCKHOLM)  # config: friday_briefing 19:00
LEAD = timedelta(seconds=30)  # the bot starts at 18.59.30 on its clock
ON_TIME = timedelta(seconds=30)
MARKER = "Utsättning –"  # the heading of the briefing (messages/templates/briefing.j2)
TICK_DONE = re.compile(r'Job "utskick-kontroll .*" executed successfully')

ADMIN, COORDINATOR, PAUSED = 8000, 8100, 8209
REPORTERS = list(range(8201, 8210))  # field members of two organisations; 8209 pauses
BRIEFING_GROUP, COORDINATOR_GROUP = -4_011_111_111, -4_022_222_222

__all__ = ["bot_env", "server"]  # fixtures from test_process, used here


class StampedFake(FakeTelegram):
    """The fake Telegram on the shifted clock, remembering when each call arrived."""

    def __init__(self, offset: int) -> None:
        super().__init__(wall_clock=lambda: time.time() + offset)
        self.stamps: list[float] = []  # shifted epoch seconds, one per entry of ``calls``

    def _answer(self, method, params, files, token) -> tuple[int, dict[str, Any]]:
        self.stamps.append(self._wall_clock())  # under the lock, just as calls.append
        return super()._answer(method, params, files, token)

    def shifted_now(self) -> datetime:
        return datetime.fromtimestamp(self._wall_clock(), STOCKHOLM)


@pytest.fixture
def offset() -> int:
    """Whole seconds added to the real clock, so that it reads Friday 18.59.30 now."""
    return math.ceil((BRIEFING_AT - LEAD).timestamp() - time.time())


@pytest.fixture
def fake(offset) -> StampedFake:
    return StampedFake(offset)


class ShiftedRun(Run):
    """Bot processes on the shifted clock: libfaketime, preloaded, with the test's offset."""

    def __init__(self, *args, offset: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.env = self.env | {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": f"{offset:+d}"}


@pytest.fixture
def run(fake, database_url, bot_env, tmp_path, offset):
    current = ShiftedRun(fake, database_url, bot_env, tmp_path, offset=offset)
    yield current
    current.kill_all()


# ---------------------------------------------------------------- what the chats show

def briefings(fake: FakeTelegram, chat_id: int) -> list[dict]:
    return [m for m in fake.bot_messages(chat_id) if MARKER in m.get("text", "")]


def briefing_send_times(fake: StampedFake) -> list[datetime]:
    """When (on the shifted clock) the bot's successful sends of the briefing arrived."""
    sent = [stamp for (method, params), stamp in zip(fake.calls, fake.stamps, strict=True)
            if method == "sendMessage" and MARKER in str(params.get("text"))]
    return [datetime.fromtimestamp(stamp, STOCKHOLM) for stamp in sent]


def local(value: Any) -> datetime:
    """A timestamp as the database returns it (aware, naive UTC, or SQLite text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    return value.astimezone(STOCKHOLM)


def prepare(database_url: str, now: datetime, people: list[tuple[str, str]]) -> list[str]:
    """An admin, and invitations (role, org) as ``lagesbild invite`` makes them.

    Written straight to the database: the CLI is tested elsewhere, and a dozen Python
    start-ups would eat the minute before 19.00 on a busy machine.
    """
    async def work() -> list[str]:
        db = Database(database_url)
        try:
            async with db.session() as session:
                await add_member(session, telegram_user_id=ADMIN, first_name="Admin",
                                 role="admin", org_key="kommunen", now=now)
                tokens = [await create_invite(session, role=role, org_key=org, now=now)
                          for role, org in people]
                await session.commit()
            return tokens
        finally:
            await db.dispose()

    return asyncio.run(work())


def join(run: ShiftedRun, people: dict[int, str], tokens: list[str]) -> None:
    """Invited people write ``/start <token>``."""
    for (user_id, name), token in zip(people.items(), tokens, strict=True):
        run.fake.user(user_id, name)
        run.fake.send_text(user_id, f"/start {token}")
    run.wait(lambda: all(any("Välkommen" in m.get("text", "")
                             for m in run.fake.bot_messages(user_id))
                         for user_id in people), "the welcome messages")


def register_group(run: ShiftedRun, chat_id: int, title: str, word: str, answer: str) -> None:
    run.fake.create_group(chat_id, title)
    run.fake.add_bot_to_group(chat_id, ADMIN)
    run.fake.send_text(ADMIN, f"/registrera_grupp {word}".strip(), chat_id=chat_id)
    run.wait(lambda: any(answer in m.get("text", "") for m in run.fake.bot_messages(chat_id)),
             f"the registration of {title}")


# ---------------------------------------------------------------- the test

def test_friday_briefing_goes_out_at_19_once_to_each_field_member_and_group(
        run, fake, database_url):
    # About 63 s: 30 s to 19.00, then the first safety tick a minute after the start.
    run.deadline(100)
    # Before 19.00: an admin, field members (one pauses), a coordinator, two groups.
    orgs = ["nattvandrarna", "faltgruppen"]
    roles = [("reporter", orgs[n % 2]) for n in range(len(REPORTERS))]
    tokens = prepare(database_url, fake.shifted_now(), [*roles, ("coordinator", "kommunen")])
    bot = run.start_bot()
    run.describe = lambda: f"shifted clock: {fake.shifted_now():%a %H:%M:%S}"
    fake.user(ADMIN, "Admin")
    join(run, {uid: f"Vandrare{n}" for n, uid in enumerate(REPORTERS)}
         | {COORDINATOR: "Samordnare"}, tokens)
    fake.send_text(PAUSED, "/paus")
    run.wait(lambda: any("Pausat" in m.get("text", "") for m in fake.bot_messages(PAUSED)),
             "the pause to be confirmed")
    register_group(run, BRIEFING_GROUP, "Utsättning Tegelbruket", "utsattning",
                   "utsättningsgrupp")
    register_group(run, COORDINATOR_GROUP, "Samordnare EST", "", "samordningsgrupp")
    ready_at = fake.shifted_now()
    assert ready_at < BRIEFING_AT, f"setup ended at {ready_at:%H:%M:%S}, after 19.00"
    assert not any(briefings(fake, chat) for chat in [*REPORTERS, BRIEFING_GROUP])

    # 19.00: the briefing to every active, unpaused field member and the briefing group.
    expected = [uid for uid in REPORTERS if uid != PAUSED] + [BRIEFING_GROUP]
    run.wait(lambda: all(briefings(fake, chat) for chat in expected), "the briefings")
    # The safety tick (every minute, first one after 19.00) must not send it again.
    # That costs the wait until a minute after the start, but proves "once" in the process.
    run.poll(lambda: TICK_DONE.search(bot.stderr().partition("scheduled briefing")[2]),
             "the first safety tick after the briefing")

    for chat in expected:
        assert len(briefings(fake, chat)) == 1, chat
    for chat in [PAUSED, COORDINATOR, ADMIN, COORDINATOR_GROUP]:
        assert briefings(fake, chat) == [], chat
    [text] = {m["text"] for chat in expected for m in briefings(fake, chat)}
    assert "/rapport" in text and "Läge per område" in text

    sends = briefing_send_times(fake)
    assert len(sends) == len(expected)
    first, last = min(sends), max(sends)
    print(f"\nready at {ready_at:%H:%M:%S.%f}; briefing sends from "
          f"+{(first - BRIEFING_AT).total_seconds():.2f} s to "
          f"+{(last - BRIEFING_AT).total_seconds():.2f} s after 19.00")
    assert BRIEFING_AT <= first and last <= BRIEFING_AT + ON_TIME
    assert "scheduled briefing fri 19:00: sent" in bot.stderr()  # the trigger, not the tick

    [(period, status, late, scheduled_for)] = sql(
        database_url, "SELECT period, status, late, scheduled_for FROM broadcasts "
                      "WHERE kind = 'briefing'")
    assert (period, status, bool(late), local(scheduled_for)) == (
        "2026-11-27", "done", False, BRIEFING_AT)
    rows = sql(database_url, "SELECT d.chat_id, d.status, d.sent_at FROM deliveries d "
                             "JOIN broadcasts b ON b.id = d.broadcast_id "
                             "WHERE b.kind = 'briefing' ORDER BY d.chat_id")
    assert sorted(chat for chat, _, _ in rows) == sorted(expected)
    for chat, status, sent_at in rows:  # as the bot's own clock saw it
        assert status == "sent", chat
        assert BRIEFING_AT <= local(sent_at) <= BRIEFING_AT + ON_TIME, (chat, sent_at)
    assert sql(database_url, "SELECT kind FROM broadcasts WHERE kind <> 'briefing'") == []
    assert fake.unimplemented_calls == []

    bot.popen.send_signal(signal.SIGTERM)
    assert bot.popen.wait(timeout=min(15, run.remaining())) == 0, run.explain()
    log = bot.stderr()
    assert "Traceback" not in log and " ERROR " not in log, log
    run.assert_token_never_printed()
