"""Shared fixtures: a fresh database per test, the bundled config, the bot under test."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

import pytest

from est.config import default_config_path, load_config
from storage.members import add_member, create_invite
from tests.fake_telegram import FakeTelegram
from tests.utils.database import TestDatabases
from tests.utils.harness import BotUnderTest, FakeClock

warnings.filterwarnings("ignore", message=".*per_message.*")


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    dbs = TestDatabases(tmp_path_factory.mktemp("db"))
    dbs.prepare()
    yield dbs
    dbs.close()


@pytest.fixture
def database_url(databases: TestDatabases) -> str:
    return databases.fresh()


@pytest.fixture(scope="session")
def config():
    return load_config(default_config_path())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 20, 20, 0, tzinfo=UTC))


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def bot(fake, database_url, config, clock):
    runner = BotUnderTest(fake, database_url, config, clock)
    await runner.start()
    yield runner
    await runner.stop()


async def invite_token(bot: BotUnderTest, role: str = "reporter",
                       org_key: str = "nattvandrarna") -> str:
    async with bot.services.db.session() as session:
        token = await create_invite(session, role=role, org_key=org_key, now=bot.clock())
        await session.commit()
    return token


async def make_admin(bot: BotUnderTest, user_id: int, org_key: str = "kommunen") -> None:
    async with bot.services.db.session() as session:
        await add_member(session, telegram_user_id=user_id, first_name="Admin", role="admin",
                         org_key=org_key, now=bot.clock())
        await session.commit()


async def registered(bot: BotUnderTest, user_id: int, first_name: str = "Anna",
                     role: str = "reporter", org_key: str = "nattvandrarna"):
    """A person who joined through an invitation, as a real user would."""
    person = bot.person(user_id, first_name)
    await person.send(f"/start {await invite_token(bot, role, org_key)}")
    return person


async def file_report(person, *, area="Vivalla", place="Vivallaskolan",
                      category="☐ Skadegörelse", severity="3 – Allvarligt", text=None,
                      sharing="Alla samordnare", people="3–5") -> dict:
    """Tap through /rapport as a reporter would; returns the receipt."""
    await person.send("/rapport")
    for label in [area, place, category, "Klar ✔", people, "Nu", severity]:
        await person.click(label)
    if text is None:
        await person.click("Hoppa över")
    else:
        await person.send(text)
    await person.click(sharing)
    receipt = await person.click("✅ Skicka")
    assert "Mottagen" in receipt["text"]
    return receipt


__all__ = ["file_report", "invite_token", "make_admin", "registered"]
