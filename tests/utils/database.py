"""Test databases: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.

Migrations run once per session (into a template file on SQLite); each test
then gets an empty copy (SQLite) or truncated tables (PostgreSQL). On PostgreSQL
each test session creates a database of its own on TEST_DATABASE_URL's server
(named after the URL's database and the process id) and drops it at the end, so
two runs on one server never see each other's tables.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.migrate import upgrade
from storage.models import metadata

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


class TestDatabases:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template: Path | None = None
        self.postgres_url = ""
        self._counter = 0

    @property
    def backend(self) -> str:
        return "postgresql" if TEST_DATABASE_URL else "sqlite"

    def prepare(self) -> None:
        if TEST_DATABASE_URL:
            self.postgres_url = own_postgres_database("session")
            upgrade(self.postgres_url)
        else:
            self.template = self.workdir / "template.db"
            upgrade(f"sqlite:///{self.template}")

    def close(self) -> None:
        if TEST_DATABASE_URL:
            drop_postgres_database(self.postgres_url)

    def fresh(self) -> str:
        """The URL of an empty, migrated database for one test."""
        if TEST_DATABASE_URL:
            _truncate_postgres(self.postgres_url)
            return self.postgres_url
        self._counter += 1
        target = self.workdir / f"test-{self._counter}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


def _run_postgres(url: str, statements: list[str]) -> None:
    async def run() -> None:
        engine = create_async_engine(make_url(url).set(drivername="postgresql+asyncpg"))
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
        await engine.dispose()

    asyncio.run(run())


def own_postgres_database(purpose: str) -> str:
    """A new, empty database on TEST_DATABASE_URL's server for this process; its URL."""
    url = make_url(TEST_DATABASE_URL)
    name = f"{url.database}_{os.getpid()}_{purpose}"
    _run_admin(url, [f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'])
    return url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    _run_admin(make_url(TEST_DATABASE_URL),
               [f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'])


def _run_admin(url, statements: list[str]) -> None:
    """CREATE and DROP DATABASE run outside a transaction, connected to the given URL."""
    async def run() -> None:
        engine = create_async_engine(url.set(drivername="postgresql+asyncpg"),
                                     isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    # A connection some test left in a transaction fails the next test, not the run.
    _run_postgres(url, ["SET lock_timeout = '20s'",
                        f"TRUNCATE {tables} RESTART IDENTITY CASCADE"])
