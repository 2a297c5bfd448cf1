"""Test databases: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.

Migrations run once per session (into a template file on SQLite); each test
then gets an empty copy (SQLite) or truncated tables (PostgreSQL).
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
        self._counter = 0

    @property
    def backend(self) -> str:
        return "postgresql" if TEST_DATABASE_URL else "sqlite"

    def prepare(self) -> None:
        if TEST_DATABASE_URL:
            _reset_postgres(TEST_DATABASE_URL)
            upgrade(TEST_DATABASE_URL)
        else:
            self.template = self.workdir / "template.db"
            upgrade(f"sqlite:///{self.template}")

    def fresh(self) -> str:
        """The URL of an empty, migrated database for one test."""
        if TEST_DATABASE_URL:
            _truncate_postgres(TEST_DATABASE_URL)
            return TEST_DATABASE_URL
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


def _reset_postgres(url: str) -> None:
    _run_postgres(url, ["DROP SCHEMA IF EXISTS public CASCADE", "CREATE SCHEMA public"])


def _truncate_postgres(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    _run_postgres(url, [f"TRUNCATE {tables} RESTART IDENTITY CASCADE"])
