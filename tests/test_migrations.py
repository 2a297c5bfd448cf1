"""Upgrades keep what is stored: migrations run on a database that holds data.

A report open during the upgrade to the dialog engine (migration 0004) still finishes.

The database is made at revision 0003 with a report draft half done (area chosen, at the
place step), its message carrying the old ``r:`` buttons. After ``upgrade`` the draft is
an open dialog at the same step; a press on the old message shows the step again with
today's buttons, and the report is sent once, from the same draft.

0005 rebuilds ``reports`` on SQLite (a nullable reporter): the categories, which cascade
on delete, must all still be there.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import upgrade
from tests.utils.database import (
    TEST_DATABASE_URL,
    drop_postgres_database,
    own_postgres_database,
)
from tests.utils.harness import BotUnderTest

WALKER = 5150
OLD_PLACE_SCREEN = "Rapport 2/8 – Plats\n\n📍 Vivalla\n\nVälj plats."
OLD_BUTTONS = {"inline_keyboard": [
    [{"text": "Vivallaskolan", "callback_data": "r:1:p:viv_skola"}],
    [{"text": "◀ Tillbaka", "callback_data": "r:1:b"},
     {"text": "✖ Avbryt", "callback_data": "r:1:x"}],
]}


@pytest.fixture
def old_database(tmp_path):
    """An empty database of its own (the suite's shared one is already at head)."""
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'at-0003.db'}"
        return
    url = own_postgres_database("upgrade")
    yield url
    drop_postgres_database(url)


def execute(database_url: str, statement: str, **params) -> list[tuple]:
    async def run() -> list[tuple]:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(statement), params)
                return [tuple(r) for r in result.all()] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def old_message_in_the_chat(fake) -> int:
    """What the walker's phone shows from before the upgrade: the old bot's place step."""
    fake.user(WALKER, "Wille")
    fake.send_text(WALKER, "/rapport")  # the walker started /rapport on the old bot ...
    _, body = fake.handle("getUpdates", {}, token=fake.token)
    last = body["result"][-1]["update_id"]
    fake.handle("getUpdates", {"offset": last + 1, "timeout": 0}, token=fake.token)  # handled
    _, sent = fake.handle("sendMessage", {"chat_id": WALKER, "text": OLD_PLACE_SCREEN,
                                          "reply_markup": json.dumps(OLD_BUTTONS)},
                          token=fake.token)
    return sent["result"]["message_id"]


def test_a_report_open_during_the_upgrade_is_finished_and_sent_once(
        fake, old_database, config, clock):
    upgrade(old_database, "0003")
    message_id = old_message_in_the_chat(fake)
    now = datetime(2026, 11, 20, 19, 55, tzinfo=UTC)
    execute(old_database,
            "INSERT INTO members (id, telegram_user_id, first_name, role, org_key, active, paused,"
            " joined_at) VALUES (1, :uid, 'Wille', 'reporter', 'nattvandrarna', :t, :f, :now)",
            uid=WALKER, t=True, f=False, now=now)
    execute(old_database,
            "INSERT INTO report_drafts (id, member_id, status, step, data, chat_id, message_id,"
            " last_update_id, created_at, updated_at) VALUES (1, 1, 'open', 'place', :data,"
            " :chat, :message, 41, :now, :now)",
            data=json.dumps({"area": "vivalla"}), chat=WALKER, message=message_id, now=now)

    upgrade(old_database)
    assert execute(old_database, "SELECT kind, status, step, message_id FROM dialogs") == [
        ("report", "open", "place", message_id)]

    asyncio.run(finish_the_report(fake, old_database, config, clock, message_id))
    assert execute(old_database, "SELECT draft_id, area_key, place_key FROM reports") == [
        (1, "vivalla", "viv_skola")]


async def finish_the_report(fake, database_url, config, clock, message_id: int) -> None:
    """The new bot: a press on the old message, then the rest of the report."""
    bot = BotUnderTest(fake, database_url, config, clock)
    await bot.start()
    try:
        walker = bot.person(WALKER, "Wille")
        shown = await walker.click("Vivallaskolan", fake.last_bot_message(WALKER))
        assert shown["message_id"] == message_id
        assert "Rapport 2/8 – Plats" in shown["text"] and "📍 Vivalla" in shown["text"]
        assert all(b["callback_data"].startswith("d:1:")
                   for row in shown["reply_markup"]["inline_keyboard"] for b in row)

        for label in ["Vivallaskolan", "☐ Skadegörelse", "Klar ✔", "3–5", "Nu",
                      "3 – Allvarligt", "Hoppa över", "Alla samordnare"]:
            await walker.click(label)
        receipt = await walker.click("✅ Skicka")
        assert "Mottagen" in receipt["text"]
    finally:
        await bot.stop()


def test_0005_keeps_every_report_and_its_categories(old_database):
    upgrade(old_database, "0004")
    now = datetime(2026, 11, 20, 19, 55, tzinfo=UTC)
    execute(old_database,
            "INSERT INTO members (id, telegram_user_id, first_name, role, org_key, active, paused,"
            " feedback_opt_out, joined_at) VALUES (1, :uid, 'Wille', 'reporter',"
            " 'nattvandrarna', :t, :f, :f, :now)", uid=WALKER, t=True, f=False, now=now)
    for n in (1, 2):
        execute(old_database,
                "INSERT INTO dialogs (id, kind, member_id, chat_id, status, step, data,"
                " handled_update_ids, created_at, updated_at) VALUES (:n, 'report', 1, :chat,"
                " 'done', 'summary', '{}', '[]', :now, :now)", n=n, chat=WALKER, now=now)
        execute(old_database,
                "INSERT INTO reports (id, member_id, org_key, area_key, occurred_at, received_at,"
                " updated_at, sharing, draft_id) VALUES (:n, 1, 'nattvandrarna', 'vivalla',"
                " :now, :now, :now, 'formedlad', :n)", n=n, now=now)
        for category in ("skadegorelse", "brand"):
            execute(old_database, "INSERT INTO report_categories VALUES (:n, :c)",
                    n=n, c=category)

    upgrade(old_database)
    assert execute(old_database, "SELECT report_id, category_key FROM report_categories"
                                 " ORDER BY 1, 2") == [
        (1, "brand"), (1, "skadegorelse"), (2, "brand"), (2, "skadegorelse")]
    execute(old_database, "UPDATE reports SET member_id = NULL WHERE id = 1")
    assert execute(old_database, "SELECT id, member_id FROM reports ORDER BY id") == [
        (1, None), (2, 1)]
