"""``lagesbild preview`` says what went wrong with the database, and only sends the
operator to ``db upgrade`` when a table is missing."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError

from bot.cli.main import main
from bot.outbound import posts


@pytest.fixture
def env(monkeypatch, database_url):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    return database_url


def test_an_unmigrated_database_points_to_db_upgrade(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'tom.db'}")
    monkeypatch.delenv("LAGESBILD_CONFIG", raising=False)
    assert main(["preview", "briefing"]) == 1
    err = capsys.readouterr().err
    assert "Kunde inte läsa databasen (OperationalError: no such table" in err
    assert "Kör först: lagesbild db upgrade" in err
    assert "[SQL:" not in err  # the driver's message, not the statement


def test_another_database_error_says_what_it_is_and_not_db_upgrade(env, monkeypatch, capsys):
    class TooManyArguments(Exception):
        pass

    async def failing(kind, services, now):
        raise DBAPIError("SELECT …", {}, TooManyArguments(
            "the number of query arguments cannot exceed 32767"))

    monkeypatch.setattr(posts, "compose", failing)
    assert main(["preview", "lagesbild"]) == 1
    err = capsys.readouterr().err
    assert ("Kunde inte läsa databasen (TooManyArguments: the number of query arguments "
            "cannot exceed 32767).") in err
    assert "db upgrade" not in err
