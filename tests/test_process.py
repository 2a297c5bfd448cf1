"""The bot as a process: ``python -m bot run`` against the fake Telegram over HTTP.

A SIGKILL in the middle of a burst of reports, a restart, the replay of the durable
inbox; strangers; clean shutdown. Nothing here sleeps to make a timing claim: every wait
is for a condition on the fake's state (or the database), within the test's deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.sql import Executable

from storage.db import create_engine
from storage.models import InboxUpdate
from tests.fake_telegram import FakeTelegram, FakeTelegramServer

ROOT = Path(__file__).resolve().parents[1]
LAGESBILD = [sys.executable, "-m", "bot"]
FULL_DIALOG = ["Vivalla", "Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
               "3 – Allvarligt", "Hoppa över", "Alla samordnare", "✅ Skicka"]
RECEIPT = re.compile(r"Mottagen – (R-\d{4}-\d{6})")
ALREADY_SENT = re.compile(r"redan skickad \((R-\d{4}-\d{6})\)")
REFUSAL = "Be din samordnare om en inbjudan"
ENV_KEYS = ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "LAGESBILD_CONFIG", "LOG_LEVEL")

Message = dict[str, Any]


# ---------------------------------------------------------------- the database, read-only

def sql(database_url: str, statement: str | Executable) -> list[tuple]:
    """Rows of one query, through the bot's own engine settings (SQLite or PostgreSQL)."""
    if isinstance(statement, str):
        statement = text(statement)

    async def run() -> list[tuple]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in (await connection.execute(statement)).all()]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def unhandled_inbox_rows(database_url: str) -> int:
    return sql(database_url, "SELECT count(*) FROM inbox_updates WHERE done_at IS NULL")[0][0]


def inbox_payloads(database_url: str) -> list[dict | None]:
    """As the bot reads them: a handled update's payload is erased (JSON null here)."""
    return [p for (p,) in sql(database_url, select(InboxUpdate.payload))]


def reports_by_user(database_url: str) -> list[tuple[int, str]]:
    return sql(database_url, "SELECT m.telegram_user_id, r.reference FROM reports r "
                             "JOIN members m ON m.id = r.member_id ORDER BY r.id")


# ---------------------------------------------------------------- processes and waiting

@dataclass
class BotProcess:
    popen: subprocess.Popen
    stderr_path: Path
    killed: bool = False  # by the test, on purpose

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


class Run:
    """One test's bot processes, its deadline, and waits that notice a bot that died."""

    def __init__(self, fake: FakeTelegram, database_url: str, env: dict[str, str],
                 workdir: Path) -> None:
        self.fake, self.database_url, self.env, self.workdir = fake, database_url, env, workdir
        self.bots: list[BotProcess] = []
        self.cli_output: list[str] = []
        self.end = time.monotonic() + 60
        self.describe: Callable[[], str] = lambda: ""

    def deadline(self, seconds: float) -> None:
        """The hard time bound of the whole test; every wait takes from it."""
        self.end = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    # --- processes

    def start_bot(self, env: dict[str, str] | None = None) -> BotProcess:
        path = self.workdir / f"bot-{len(self.bots) + 1}.stderr"
        with path.open("wb") as log:
            popen = subprocess.Popen([*LAGESBILD, "run"], cwd=ROOT, env=env or self.env,
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.bots.append(BotProcess(popen, path))
        return self.bots[-1]

    def sigkill(self, bot: BotProcess) -> None:
        bot.killed = True
        os.kill(bot.popen.pid, signal.SIGKILL)
        assert bot.popen.wait(timeout=self.remaining()) == -signal.SIGKILL
        self.fake.interrupt_polling()  # its long poll has no client any more

    def invite_tokens(self, count: int) -> list[str]:
        """``lagesbild invite --role reporter --org nattvandrarna``, ``count`` at once."""
        command = [*LAGESBILD, "invite", "--role", "reporter", "--org", "nattvandrarna"]
        procs = [subprocess.Popen(command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]
        tokens = []
        try:
            for proc in procs:
                out, err = proc.communicate(timeout=self.remaining())
                self.cli_output += [out, err]
                assert proc.returncode == 0, err
                first_line = out.splitlines()[0]
                assert first_line.startswith("/start "), out
                tokens.append(first_line.removeprefix("/start "))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert len(set(tokens)) == count
        return tokens

    def kill_all(self) -> None:
        for bot in self.bots:
            if bot.popen.poll() is None:
                bot.popen.kill()
            bot.popen.wait(timeout=10)

    def all_output(self) -> str:
        return "\n".join([*self.cli_output, *(bot.stderr() for bot in self.bots)])

    def explain(self) -> str:
        logs = [f"--- bot {n} (exit {b.popen.poll()}):\n{b.stderr()[-4000:]}"
                for n, b in enumerate(self.bots, 1)]
        return "\n".join([self.describe(), *logs])

    # --- waiting

    def _check_alive(self, what: str) -> None:
        for bot in self.bots:
            code = bot.popen.poll()
            if code is not None and not bot.killed and code != 0:
                raise AssertionError(f"the bot died (exit {code}) while waiting for {what}.\n"
                                     f"{self.explain()}")

    def wait(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait on the fake's condition (re-checked on every Bot API call and user action);
        every half second also make sure the bot has not died meanwhile."""
        while not self.fake.wait_until(predicate, min(0.5, self.remaining())):
            self._check_alive(what)
            if not self.remaining():
                raise AssertionError(f"timed out waiting for {what}.\n{self.explain()}")

    def poll(self, check: Callable[[], bool], what: str) -> None:
        """For state outside the fake (the database): check again after short pauses."""
        while not check():
            self._check_alive(what)
            if not self.remaining():
                raise AssertionError(f"timed out waiting for {what}.\n{self.explain()}")
            time.sleep(0.05)  # a pause between checks, not a timing assertion

    def wait_for_inbox_handled(self) -> None:
        self.poll(lambda: unhandled_inbox_rows(self.database_url) == 0,
                  "every stored update to be handled")

    def assert_token_never_printed(self) -> None:
        leaking = [line for line in self.all_output().splitlines() if self.fake.token in line]
        assert leaking == []


@pytest.fixture
def server(fake):
    with FakeTelegramServer(fake) as running:
        yield running


@pytest.fixture
def bot_env(fake, server, database_url) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ENV_KEYS and "proxy" not in k.lower()}
    return env | {"BOT_TOKEN": fake.token, "DATABASE_URL": database_url,
                  "TELEGRAM_API_URL": server.base_url, "LOG_LEVEL": "INFO",
                  "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def run(fake, database_url, bot_env, tmp_path):
    current = Run(fake, database_url, bot_env, tmp_path)
    yield current
    current.kill_all()


# ---------------------------------------------------------------- people in the app

def state(message: Message | None) -> tuple | None:
    if message is None:
        return None
    return message["message_id"], message.get("text"), message.get("reply_markup")


@dataclass
class Reporter:
    """A nattvandrare who taps through the report as the dialog message shows it."""

    fake: FakeTelegram
    user_id: int
    queries: list[str] = field(default_factory=list)
    before: tuple | None = None  # the dialog as it was when the last button was pressed
    after: Reporter | None = None  # starts once this one's first press was answered

    def bot_messages(self) -> list[Message]:
        return self.fake.bot_messages(self.user_id)

    def message(self, message_id: int) -> Message:
        return next(m for m in self.bot_messages() if m["message_id"] == message_id)

    def dialog(self) -> Message | None:
        """The newest bot message with buttons: the live report dialog."""
        with_buttons = [m for m in self.bot_messages() if m.get("reply_markup")]
        return with_buttons[-1] if with_buttons else None

    def references(self) -> set[str]:
        """References the person was told: in a receipt, or in an "already sent" answer."""
        seen = {m for msg in self.bot_messages() for m in RECEIPT.findall(msg.get("text", ""))}
        answers = [self.fake.callback_answer(q) or {} for q in self.queries]
        return seen | {m for a in answers for m in ALREADY_SENT.findall(a.get("text", ""))}

    @property
    def done(self) -> bool:
        return bool(self.references())

    @property
    def status(self) -> str:
        """done; ready to press; waiting for an answer; or stalled: answered, yet unchanged."""
        if self.done:
            return "done"
        dialog = self.dialog()
        if dialog is None or (self.after is not None and len(self.after.queries) < 2):
            return "waiting"  # for the dialog of /rapport, or for a turn to start
        if self.before is None or state(dialog) != self.before:
            return "ready"
        answer = self.fake.callback_answer(self.queries[-1])
        if answer is None:
            return "waiting"
        return "ready" if answer.get("text") else "stalled"

    def press_next(self) -> str:
        """The next step is whatever the message shows now, even one already passed."""
        dialog = self.dialog()
        buttons = self.fake.buttons(dialog)
        label = next((label for label in FULL_DIALOG if label in buttons), None)
        assert label, f"{self.user_id}: nothing to press on {dialog}"
        query = self.fake.click(self.user_id, dialog, label)
        self.queries.append(query["id"])
        self.before = state(dialog)
        return label

    def describe(self) -> str:
        shown = ((self.dialog() or {}).get("text") or "").splitlines()[:1]
        return f"{self.user_id}: {self.status}, {len(self.queries)} presses, shows {shown}"


def press_ready(reporters: list[Reporter], fake: FakeTelegram) -> list[int]:
    with fake.atomically():
        ready = [r for r in reporters if r.status == "ready"]
        for reporter in ready:
            reporter.press_next()
    return [r.user_id for r in ready]


def drive(run: Run, reporters: list[Reporter],
          until: Callable[[], bool] | None = None) -> list[int]:
    """Round-robin: everyone presses their next button as soon as the bot has answered.

    A press that was answered but left the message unchanged, after the bot has handled
    everything it stored, is pressed again, as a person would. Returns who had to.
    """
    until = until or (lambda: all(r.done for r in reporters))
    pressed_again = []

    def settled() -> bool:
        statuses = {r.status for r in reporters}
        return "ready" in statuses or "waiting" not in statuses

    while not until():
        press_ready(reporters, run.fake)
        run.wait(lambda: until() or settled(), "the bot to answer a button")
        if until() or not any(r.status == "stalled" for r in reporters):
            continue
        run.wait_for_inbox_handled()
        with run.fake.atomically():
            for reporter in reporters:
                if reporter.status == "stalled":
                    pressed_again.append(reporter.user_id)
                    reporter.press_next()
    return pressed_again


def kill_mid_burst(run: Run, bot: BotProcess, reporters: list[Reporter]) -> dict[int, str]:
    """SIGKILL while the bot is busy: a fresh round of presses, some answered, some not.

    Returns who had a press in flight, and the step their dialog showed.
    """
    while True:
        fresh = [r for r in reporters if r.user_id in press_ready(reporters, run.fake)]
        run.wait(lambda watched=fresh or reporters: any(r.status != "waiting" for r in watched),
                 "the bot to answer one of a round of presses")
        with run.fake.atomically():  # the bot gets no answer from Telegram until the kill
            in_flight = {r.user_id: r.dialog()["text"].splitlines()[0] for r in reporters
                         if r.status == "waiting" and r.queries}
            if in_flight:
                run.sigkill(bot)
                return in_flight


def register(run: Run, user_ids: list[int]) -> list[Reporter]:
    """Invited people join with ``/start <token>``; the bot must be running."""
    fake = run.fake
    for number, (user_id, token) in enumerate(
            zip(user_ids, run.invite_tokens(len(user_ids)), strict=True)):
        fake.user(user_id, f"Vandrare{number}")
        fake.send_text(user_id, f"/start {token}")
    run.wait(lambda: all(any("Välkommen" in m.get("text", "") for m in fake.bot_messages(u))
                         for u in user_ids), "the welcome messages")
    return [Reporter(fake, user_id) for user_id in user_ids]


def open_dialogs(run: Run, reporters: list[Reporter]) -> None:
    for reporter in reporters:
        run.fake.send_text(reporter.user_id, "/rapport")
    run.wait(lambda: all(r.dialog() for r in reporters), "the report dialogs")


# ---------------------------------------------------------------- tests

def test_sigkill_during_burst_loses_and_duplicates_nothing(run, fake, database_url):
    run.deadline(90)  # about 20 s on an idle machine; a busy one may need more
    user_ids = list(range(5001, 5013))
    first = run.start_bot()
    reporters = register(run, user_ids)
    run.describe = lambda: "\n".join(r.describe() for r in reporters)
    open_dialogs(run, reporters)
    for earlier, later in itertools.pairwise(reporters):
        later.after = earlier  # one step apart, so the kill finds people at every step

    a_third = len(reporters) // 3
    drive(run, reporters, until=lambda: sum(r.done for r in reporters) >= a_third)
    in_flight = kill_mid_burst(run, first, reporters)
    receipts_before_kill = sum(r.done for r in reporters)
    assert receipts_before_kill < len(reporters)

    pressed_while_down = press_ready(reporters, fake)  # people go on while the bot is down
    run.start_bot()
    pressed_again = drive(run, reporters)
    replayed = re.findall(r"replaying (\d+) stored", run.bots[1].stderr())
    print(f"\nkilled with presses in flight by {in_flight} after {receipts_before_kill} "
          f"receipts; pressed while down: {pressed_while_down}; replayed at start: "
          f"{replayed or 0}; had to press again after the restart: {pressed_again}")

    run.wait_for_inbox_handled()
    run.wait(lambda: not fake.unanswered_callback_queries(), "every press to be answered")
    assert pressed_again == [], "a press was answered, but its dialog never moved on"
    stored = reports_by_user(database_url)
    references = [reference for _, reference in stored]
    assert len(stored) == len(user_ids)
    assert sorted(user for user, _ in stored) == user_ids  # exactly one report each
    assert len(set(references)) == len(references)
    for reporter in reporters:  # what each person was told is their own stored report
        assert reporter.references() == {r for u, r in stored if u == reporter.user_id}
    assert set(inbox_payloads(database_url)) == {None}
    run.assert_token_never_printed()


def test_sigkill_mid_dialog_resumes_the_dialog(run, fake, database_url):
    run.deadline(45)
    first = run.start_bot()
    [anna] = register(run, [6001])
    run.describe = anna.describe
    open_dialogs(run, [anna])
    dialog_id = anna.dialog()["message_id"]

    def press(label: str) -> None:
        assert anna.dialog()["message_id"] == dialog_id  # the same message all along
        assert anna.press_next() == label
        run.wait(lambda: anna.status == "ready", f"the answer to {label!r}")

    for label in FULL_DIALOG[:5]:  # up to the number of people
        press(label)
    assert "När" in anna.dialog()["text"]
    run.sigkill(first)

    assert anna.press_next() == "Nu"  # pressed while the bot is down
    run.start_bot()
    run.wait(lambda: anna.status == "ready", "the answer to 'Nu' after the restart")
    assert "Allvar" in anna.dialog()["text"]
    for label in ["3 – Allvarligt", "Hoppa över", "Alla samordnare"]:
        press(label)
    summary = anna.dialog()
    assert summary["message_id"] == dialog_id
    assert "Sammanfattning" in summary["text"] and "Vivallaskolan" in summary["text"]

    with fake.atomically():  # two presses before the bot can answer the first
        twice = [fake.click(6001, summary, "✅ Skicka")["id"] for _ in range(2)]
    run.wait(lambda: all(fake.callback_answer(q) for q in twice) and anna.done,
             "both presses of Skicka to be answered")
    run.wait_for_inbox_handled()

    [(user, reference)] = reports_by_user(database_url)
    assert user == 6001
    receipt = anna.message(dialog_id)
    assert f"Mottagen – {reference}" in receipt["text"] and not receipt.get("reply_markup")
    second = fake.callback_answer(twice[1])
    assert f"redan skickad ({reference})" in second.get("text", "")
    [(area, place, severity, sharing)] = sql(
        database_url, "SELECT area_key, place_key, severity, sharing FROM reports")
    assert (area, severity, sharing) == ("vivalla", 3, "formedlad") and place
    categories = sql(database_url, "SELECT category_key FROM report_categories")
    assert categories == [("skadegorelse",)]
    assert not fake.unanswered_callback_queries()
    run.assert_token_never_printed()


def test_uninvited_user_gets_only_the_refusal_over_http(run, fake, database_url):
    run.deadline(30)
    bot = run.start_bot()
    fake.user(7001, "Mallory")
    fake.send_text(7001, "/rapport")
    secret = "Det brinner i soprummet på Vivallagatan 12, ring 070-1234567"
    fake.send_text(7001, secret)
    run.wait(lambda: len(fake.bot_messages(7001)) >= 2, "two refusals")
    run.poll(lambda: sql(database_url, "SELECT count(*) FROM inbox_updates "
                                       "WHERE done_at IS NOT NULL") == [(2,)],
             "both updates to be handled")

    replies = fake.bot_messages(7001)
    assert len(replies) == 2  # one per message, and nothing else
    for reply in replies:
        assert REFUSAL in reply["text"] and not reply.get("reply_markup")
    for table in ("members", "reports", "dialogs", "report_categories", "invites"):
        assert sql(database_url, f"SELECT count(*) FROM {table}") == [(0,)], table
    assert inbox_payloads(database_url) == [None, None]
    log = bot.stderr()
    assert secret not in log and "Mallory" not in log
    run.assert_token_never_printed()


def test_sigterm_shuts_down_cleanly(run, fake):
    run.deadline(30)
    bot = run.start_bot()
    # Up and running: its command menu is published and it waits in a long poll.
    run.wait(lambda: fake.commands_for({"type": "all_private_chats"}) != [],
             "the command menu")
    fake.wait_for_long_polls(1, timeout=run.remaining())

    bot.popen.send_signal(signal.SIGTERM)
    assert bot.popen.wait(timeout=min(15, run.remaining())) == 0, run.explain()
    log = bot.stderr()
    assert "Traceback" not in log and " ERROR " not in log, log
    run.assert_token_never_printed()


def test_missing_bot_token_exits_2_with_a_swedish_message(run, fake, bot_env):
    run.deadline(30)
    for token_setting in ({}, {"BOT_TOKEN": "   "}):
        env = {k: v for k, v in bot_env.items() if k != "BOT_TOKEN"} | token_setting
        done = subprocess.run([*LAGESBILD, "run"], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=run.remaining())
        assert done.returncode == 2, done.stderr
        assert "BOT_TOKEN saknas" in done.stderr and "Traceback" not in done.stderr
    assert fake.calls == []  # it never contacted Telegram


def test_sigkill_between_commit_and_receipt_still_shows_the_receipt(run, fake, database_url):
    run.deadline(45)
    first = run.start_bot()
    [anna] = register(run, [6002])
    run.describe = anna.describe
    open_dialogs(run, [anna])
    for label in FULL_DIALOG[:-1]:
        assert anna.press_next() == label
        run.wait(lambda: anna.status == "ready", f"the answer to {label!r}")
    dialog_id = anna.dialog()["message_id"]

    # The receipt's edit hangs up unanswered (and is retried): the report is committed
    # and the press answered, but the message still shows the summary when the bot dies.
    fake.inject("editMessageText", "timeout", chat_id=6002, times=10)
    anna.press_next()
    run.wait(lambda: any(m == "editMessageText" and "Mottagen" in str(p.get("text"))
                         for m, p in fake.calls), "the bot's first try to show the receipt")
    run.sigkill(first)
    fake.clear_faults()
    [(_, reference)] = reports_by_user(database_url)
    assert "Sammanfattning" in anna.message(dialog_id)["text"]

    run.start_bot()  # replays the press of Skicka
    run.wait_for_inbox_handled()
    assert len(reports_by_user(database_url)) == 1
    receipt = anna.message(dialog_id)
    assert f"Mottagen – {reference}" in receipt["text"] and not receipt.get("reply_markup")
    assert not fake.unanswered_callback_queries()
