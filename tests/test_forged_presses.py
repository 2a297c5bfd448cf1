"""Forged button presses, in private chats and on the bot's posts in a coordinator group.

Any client can send any callback data on any message it sees. Whatever arrives, the
press is answered, no message other than the presser's own dialog message changes,
and the database stays as it was unless the press was one the presser may make
(a button of their own open dialog on its own message, or a coordinator deciding an
open alert on the alert's post).
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.core.context import ROLE_RANK
from bot.dialogs import callbacks
from storage.members import member_by_user
from storage.models import metadata
from tests.conftest import file_report, registered
from tests.test_levels_bot import alert_posts, coordinator_group

GROUP = -4801
ADMIN, KARIN, PER, ANNA, BO, STRANGER = 8000, 8001, 8002, 8003, 8004, 8099
PEOPLE = (ADMIN, KARIN, PER, ANNA, BO, STRANGER)
# Callback prefixes the bot used before the dialog engine, and the engine's own.
OLD_PREFIXES = ("r", "l", "m", "cl", "pd", "pn", "ps", "pf", "ag", "lv", "al", "i", "x",
                "ex", "lb", "inv")
ACTIONS = ("b", "x", "pg", "p", "a", "ok", "ed", "w", "wy", "e", "k", "r", "c", "cd", "g",
           "ts", "i", "list", "running")
ODD_IDS = ("²", "١", "99999999999999999999", "9007199254740993", "-1", "0", "01", " 1",
           "1 ", "+1", "1e3", "0x1f", "", "９")
ARGS = ("7d", "30d", "lw", "m", "zz", "centrum", "vivalla", "1", "0", "²", "999",
        "99999999999999999999", "running", "list", "gult", "rott")
# An impossibly high row id, and digits Python's isdigit() accepts but int() may not.
HUGE, SQUARED = "99999999999999999999", "²"
FINDING_3_PREFIXES = ("r", "cl", "m", "al", "ps", "pd", "ag", "l", "d")


# ---------------------------------------------------------------- the world

@dataclass
class World:
    """Who is where: group posts, open and ended dialogs, an open alert."""

    alert_post: dict[str, Any]
    picture_post: dict[str, Any]
    daily_post: dict[str, Any]
    members: dict[int, int] = field(default_factory=dict)  # telegram id -> member id


async def build_world(bot) -> World:
    fake = bot.fake
    await coordinator_group(bot, fake, GROUP, ADMIN)
    karin = await registered(bot, KARIN, "Karin", role="coordinator", org_key="kommunen")
    per = await registered(bot, PER, "Per", role="coordinator", org_key="polisen")
    anna = await registered(bot, ANNA, "Anna", org_key="nattvandrarna")
    bo = await registered(bot, BO, "Bo", org_key="securitas")
    admin = bot.person(ADMIN, "Karin")
    await admin.send("/hjalp")  # something of the bot's in the admin's private chat
    stranger = bot.person(STRANGER, "Sven")
    await stranger.send("hej")  # the refusal is a bot message he can press on
    # Two organisations report from Centrum: an open alert with "Höj"/"Behåll" in the group.
    await file_report(anna, area="Centrum", place="Stortorget")
    await file_report(bo, area="Centrum", place="Stortorget")
    [alert_post] = alert_posts(fake, GROUP)
    # Dialogs of every state: open ones in private, a cancelled and a finished one.
    await anna.send("/mina_rapporter")
    await anna.send("/rapport")
    await karin.send("/export")
    await karin.send("/rapport")
    await karin.click("Vivalla")
    await per.send("/export")
    await per.click("✖ Avbryt")
    await bo.send("/lugnt")
    await bo.click("Oxhagen")
    await karin.send("/insats")
    await karin.send("/checklista")
    # Dialogs held in the group itself.
    for user_id, command in ((KARIN, "/niva"), (PER, "/agenda")):
        fake.send_text(user_id, command, chat_id=GROUP)
        await bot.settle()
    # Posts in the group: /lagesbild there, and the scheduled daily lägesbild.
    fake.send_text(KARIN, "/lagesbild", chat_id=GROUP)
    await bot.settle()
    picture_post = fake.last_bot_message(GROUP)
    bot.clock.now = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)  # Saturday 08.00 in Örebro
    [daily] = bot.application.job_queue.get_jobs_by_name("lagesbild daily 08:00")
    await daily.run(bot.application)
    await bot.settle()
    daily_post = fake.last_bot_message(GROUP)
    assert daily_post["message_id"] != picture_post["message_id"]
    assert fake.unanswered_callback_queries() == []
    world = World(alert_post, picture_post, daily_post)
    async with bot.services.db.session() as session:
        for user_id in PEOPLE:
            member = await member_by_user(session, user_id)
            if member is not None:
                world.members[user_id] = member.id
    return world


@pytest.fixture
async def world(bot) -> World:
    return await build_world(bot)


# ---------------------------------------------------------------- snapshots

Rows = dict[str, dict[tuple, dict[str, Any]]]


async def database_rows(bot) -> Rows:
    """Every row of every table but the inbox, by primary key."""
    rows: Rows = {}
    async with bot.db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name == "inbox_updates":
                continue
            key = [column.name for column in table.primary_key.columns]
            result = await connection.execute(select(table))
            rows[table.name] = {tuple(row[k] for k in key): dict(row)
                                for row in result.mappings()}
    return rows


def without_own_dialog_bookkeeping(rows: Rows, member_id: int | None) -> Rows:
    """The presser's own dialogs may record the update they saw; nothing else may change."""
    dialogs = {}
    for key, row in rows.get("dialogs", {}).items():
        if row["member_id"] == member_id:
            row = {k: v for k, v in row.items() if k not in ("handled_update_ids", "updated_at")}
        dialogs[key] = row
    return {**rows, "dialogs": dialogs}


Shown = dict[tuple[int, int], tuple[Any, ...]]


def bot_messages(fake) -> Shown:
    """What each bot message in every chat shows: text or caption, buttons, deleted."""
    shown = {}
    for chat_id in (GROUP, *PEOPLE):
        for message in fake.bot_messages(chat_id, include_deleted=True):
            shown[(chat_id, message["message_id"])] = (
                message.get("text"), message.get("caption"), message.get("reply_markup"),
                message.get("deleted", False))
    return shown


# Messages a report dialog keeps beside its own: the position keyboard's prompt and a
# long description waiting for "Spara de första 500 tecknen" (bot.features.reports).
SIDE_MESSAGES = ("location_prompt", "pending_message_id")


def own_dialog_messages(rows: Rows, member_id: int | None) -> set[tuple[int, int]]:
    own = [row for row in rows["dialogs"].values() if row["member_id"] == member_id]
    bound = {(row["chat_id"], row["message_id"]) for row in own if row["message_id"]}
    side = {(row["chat_id"], (row["data"] or {}).get(key)) for row in own
            for key in SIDE_MESSAGES if (row["data"] or {}).get(key)}
    return bound | side


def role_of(rows: Rows, member_id: int | None) -> str | None:
    for row in rows["members"].values():
        if row["id"] == member_id:
            return row["role"]
    return None


def allowed_press(bot, rows: Rows, member_id: int | None, message: dict, data: str) -> bool:
    """Whether the presser may make this press at all (it may then change things)."""
    press = callbacks.parse(data)
    role = role_of(rows, member_id)
    if press is None or role is None:
        return False
    chat_id, message_id = message["chat"]["id"], message["message_id"]
    if press.prefix == "d":
        specs = bot.application.bot_data["dialogs"].specs
        row = rows["dialogs"].get((press.id,))
        return (row is not None and row["kind"] in specs and row["member_id"] == member_id
                and (row["chat_id"], row["message_id"]) == (chat_id, message_id)
                and row["status"] == "open"
                and ROLE_RANK[role] >= ROLE_RANK[specs[row["kind"]].min_role])
    if press.prefix == "al":
        alert = rows["alerts"].get((press.id,))
        posted = {(r["chat_id"], r["message_id"]) for r in rows["alert_messages"].values()
                  if r["alert_id"] == press.id}
        return (alert is not None and alert["status"] == "open" and press.action in ("r", "k")
                and (chat_id, message_id) in posted and ROLE_RANK[role] >= 1)
    return False


class Failures(logging.Handler):
    """Errors the bot logs (a handler that raised, a failed after-effect)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()} {record.exc_info!r}")


async def press_and_check(bot, world: World, user_id: int, message: dict, data: str) -> None:
    """Press; answered, nothing else edited, nothing stored unless the press was allowed."""
    fake, member_id = bot.fake, world.members.get(user_id)
    rows_before, shown_before = await database_rows(bot), bot_messages(fake)
    allowed = allowed_press(bot, rows_before, member_id, message, data)
    failures, logger = Failures(), logging.getLogger("bot")
    logger.addHandler(failures)
    try:
        fake.click_data(user_id, message, data)
        await bot.settle()
    finally:
        logger.removeHandler(failures)
    rows_after, shown_after = await database_rows(bot), bot_messages(fake)
    where = f"{data!r} by {user_id} on message {message['message_id']} in {message['chat']['id']}"
    assert fake.unanswered_callback_queries() == [], where
    assert failures.messages == [], where  # refused, never crashed on
    own = own_dialog_messages(rows_before, member_id) | own_dialog_messages(rows_after,
                                                                             member_id)
    if not (allowed and callbacks.parse(data).prefix == "al"):  # a decision edits its alert
        changed = {key for key, before in shown_before.items()
                   if key not in own and shown_after.get(key) != before}
        assert changed == set(), where
    if not allowed:
        assert (without_own_dialog_bookkeeping(rows_after, member_id)
                == without_own_dialog_bookkeeping(rows_before, member_id)), where


# ---------------------------------------------------------------- strategies
# Draws never depend on the world (it changes as presses go through): a real id or a
# message is drawn as an index and looked up at press time.

@dataclass(frozen=True)
class Real:
    """The n-th (modulo) real row id of the world as it is at the press (of one table)."""

    n: int
    table: str | None = None


Part = str | Real


NAMED = ("dialogs", "alerts", "reports", "members", "checklists", "events", "insatser",
         "agenda_items", "area_levels")


def ids_of(rows: Rows) -> dict[str | None, list[str]]:
    """Real row ids of every kind of thing a button could name, per table and all (None)."""
    ids: dict[str | None, list[str]] = {None: ["0"]}
    for table in NAMED:
        ids[table] = [str(key[0]) for key in sorted(rows.get(table, {}))]
    ids[None] = [str(i) for i in sorted({0, *(int(i) for t in NAMED for i in ids[t])})]
    return ids


def resolve(parts: tuple[Part, ...], ids: dict[str | None, list[str]], pad: bool) -> str:
    def real(part: Real) -> str:
        pool = ids.get(part.table) or ids[None]
        return pool[part.n % len(pool)]

    data = "".join(real(p) if isinstance(p, Real) else p for p in parts)
    return data.ljust(64, "9") if pad else data


real = st.integers(0, 63).map(Real)
id_part = st.one_of(real, st.sampled_from(ODD_IDS), st.integers(0, 10**6).map(str))
action_part = st.one_of(st.sampled_from(ACTIONS),
                        st.text(string.ascii_lowercase, min_size=1, max_size=5))
arg_part = st.one_of(st.sampled_from(ARGS), real, st.text(min_size=1, max_size=12))
optional_arg = st.one_of(st.just(()), arg_part.map(lambda a: (":", a)))


def engine_press(id_: st.SearchStrategy[Part]) -> st.SearchStrategy[tuple[Part, ...]]:
    return st.tuples(id_, action_part, optional_arg).map(
        lambda t: ("d:", t[0], ":", t[1], *t[2]))


old_press = st.one_of(
    st.tuples(st.sampled_from(OLD_PREFIXES), id_part, action_part, optional_arg).map(
        lambda t: (t[0], ":", t[1], ":", t[2], *t[3])),
    st.tuples(st.sampled_from(OLD_PREFIXES), arg_part).map(lambda t: (t[0], ":", t[1])),
)
garbage = st.text(min_size=1, max_size=64).map(lambda text: (text,))
full_length = st.one_of(
    st.text(string.ascii_letters + string.digits + ":", min_size=64, max_size=64).map(
        lambda text: (text,)),
    st.just(("d:" + "9" * 62,)), st.just(("å" * 32,)),
)
# (parts, pad to 64 bytes)
forged_data = st.one_of(
    st.tuples(engine_press(id_part), st.just(False)),
    st.tuples(old_press, st.just(False)),
    st.tuples(garbage, st.just(False)),
    st.tuples(full_length, st.just(False)),
    st.tuples(real.map(lambda r: ("d:", r, ":b:")), st.just(False)),
    st.tuples(real.map(lambda r: ("d:", r, ":b:")), st.just(True)),
    # A real id with a real action of the buttons on posts: the likeliest forgery.
    st.tuples(st.tuples(st.sampled_from((("al", "alerts"), ("d", "dialogs"))),
                        st.integers(0, 63), st.sampled_from("rkbx")).map(
        lambda t: (t[0][0], ":", Real(t[1], t[0][1]), ":", t[2])), st.just(False)),
)


@dataclass(frozen=True)
class Forged:
    """One press: who, on which message, with what."""

    user_id: int
    # ("own", n): the n-th of the presser's own dialog messages (with a press of that
    # dialog); ("group", n) / ("private", n): the n-th bot message there.
    where: tuple[str, int]
    data: tuple[tuple[Part, ...], bool]


presses = st.builds(
    Forged,
    user_id=st.sampled_from(PEOPLE),
    where=st.tuples(st.sampled_from(("own", "group", "private")), st.integers(0, 10**4)),
    data=forged_data,
).flatmap(lambda f: st.just(f) if f.where[0] != "own" else st.tuples(
    engine_press(st.just(Real(0))), st.just(False)).map(lambda d: Forged(f.user_id, f.where,
                                                                        d)))


def own_dialogs(rows: Rows, member_id: int | None) -> list[dict[str, Any]]:
    return sorted((row for row in rows["dialogs"].values()
                   if row["member_id"] == member_id and row["message_id"] is not None),
                  key=lambda row: row["id"])


def message_in(fake, chat_id: int, message_id: int) -> dict[str, Any] | None:
    return next((m for m in fake.bot_messages(chat_id) if m["message_id"] == message_id), None)


def resolve_press(bot, world: World, rows: Rows, press: Forged) -> tuple[dict, str]:
    """The message pressed and the callback data, in the world as it is now."""
    kind, n = press.where
    parts, pad = press.data
    ids = ids_of(rows)
    if kind == "own":
        mine = [(row, message_in(bot.fake, row["chat_id"], row["message_id"]))
                for row in own_dialogs(rows, world.members.get(press.user_id))]
        mine = [(row, message) for row, message in mine if message is not None]
        if mine:
            row, message = mine[n % len(mine)]
            return message, resolve(parts, {None: [str(row["id"])]}, pad)
        kind = "private"
    messages = bot.fake.bot_messages(GROUP if kind == "group" else press.user_id)
    return messages[n % len(messages)], resolve(parts, ids, pad)


# ---------------------------------------------------------------- the property

@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(press=presses)
async def test_any_press_is_answered_and_changes_only_what_it_may(bot, world, press):
    message, data = resolve_press(bot, world, await database_rows(bot), press)
    if 1 <= len(data.encode("utf-8")) <= 64:  # what Telegram lets through
        await press_and_check(bot, world, press.user_id, message, data)


# ---------------------------------------------------------------- examples

async def own_dialog_ids(bot, world: World, user_id: int) -> list[int]:
    rows = await database_rows(bot)
    return sorted(key[0] for key, row in rows["dialogs"].items()
                  if row["member_id"] == world.members[user_id])


async def test_own_dialog_ids_on_group_posts_leave_the_posts_as_they_are(bot, world):
    """Finding 2: a "Tillbaka" of one's own dialog, forged onto the alert or a post."""
    posts = (world.alert_post, world.picture_post, world.daily_post)
    for user_id in (KARIN, ANNA, PER):
        for dialog_id in await own_dialog_ids(bot, world, user_id):
            for post in posts:
                for data in (f"d:{dialog_id}:b", f"r:{dialog_id}:b", f"d:{dialog_id}:x"):
                    await press_and_check(bot, world, user_id, post, data)
    for post in posts:
        [now] = [m for m in bot.fake.bot_messages(GROUP) if m["message_id"] == post["message_id"]]
        assert (now["text"], now.get("reply_markup")) == (post["text"], post.get("reply_markup"))
    assert bot.fake.buttons(world.alert_post, chat_id=GROUP) == ["Höj till gult", "Behåll"]


@pytest.mark.parametrize("prefix", FINDING_3_PREFIXES)
async def test_odd_and_huge_ids_are_answered_and_change_nothing(bot, world, prefix):
    """Finding 3: "²" passes isdigit() but not int(); 20 digits overflow a bigint."""
    targets = [(KARIN, world.alert_post), (KARIN, world.daily_post),
               (ANNA, world.picture_post), (KARIN, bot.fake.last_bot_message(KARIN)),
               (ANNA, bot.fake.last_bot_message(ANNA))]
    for user_id, message in targets:
        for odd in (SQUARED, HUGE):
            for data in (f"{prefix}:{odd}:x", f"{prefix}:{odd}:r", f"{prefix}:{odd}"):
                await press_and_check(bot, world, user_id, message, data)



async def test_odd_and_huge_row_ids_in_a_dialog_argument_are_refused(bot, world):
    """Found by the property test: ``d:<own dialog>:<action>:<20 digits>`` reached
    ``session.get`` and overflowed SQLite's integer. Row ids in arguments obey the
    dialog id's rule (bot.dialogs.callbacks.row_id)."""
    anna = bot.person(ANNA, "Anna")
    listing = await anna.send("/mina_rapporter")
    [(dialog_id,)] = [key for key, row in (await database_rows(bot))["dialogs"].items()
                   if (row["chat_id"], row["message_id"]) == (ANNA, listing["message_id"])
                   and row["status"] == "open"]
    for action in ("e", "w", "g"):
        for odd in (SQUARED, HUGE):
            await press_and_check(bot, world, ANNA, listing, f"d:{dialog_id}:{action}:{odd}")


async def test_cancel_with_an_argument_at_the_place_step_removes_only_its_own_messages(
        bot, world):
    """Found by the property test: Avbryt at the plats step also deletes the dialog's
    position-keyboard message, which belongs to that dialog too."""
    anna = bot.person(ANNA, "Anna")
    await anna.send("/rapport")
    await anna.click("Centrum")
    shown = anna.last_with_buttons  # the newest message is the position keyboard's
    [(dialog_id,)] = [key for key, row in (await database_rows(bot))["dialogs"].items()
                      if (row["chat_id"], row["message_id"]) == (ANNA, shown["message_id"])
                      and row["status"] == "open"]
    await press_and_check(bot, world, ANNA, shown, f"d:{dialog_id}:x:0..0")


async def test_an_alert_decision_forged_onto_another_message_decides_nothing(bot, world):
    """"Höj"/"Behåll" count on the alert's own post only, like a dialog's buttons."""
    rows = await database_rows(bot)
    [alert_id] = [row["alert_id"] for row in rows["alert_messages"].values()
                  if (row["chat_id"], row["message_id"]) == (GROUP, world.alert_post["message_id"])]
    for message in (world.daily_post, world.picture_post, bot.fake.last_bot_message(KARIN)):
        for action in ("k", "r"):
            await press_and_check(bot, world, KARIN, message, f"al:{alert_id}:{action}")
    assert bot.fake.buttons(world.alert_post, chat_id=GROUP) == ["Höj till gult", "Behåll"]
