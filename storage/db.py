"""Engine and sessions: plain SQLAlchemy URLs in, the right async driver out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

DEFAULT_DATABASE_URL = "sqlite:///lagesbild.db"
SQLITE_BUSY_TIMEOUT_S = 15

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",  # the short scheme many hosting platforms hand out
}


def async_url(url: str | URL) -> URL:
    """Map ``sqlite:///x.db`` or ``postgresql://…`` to the async driver we ship."""
    parsed = make_url(url)
    backend = parsed.drivername.split("+")[0]
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(f"Databastypen stöds inte: {backend} (använd sqlite eller postgresql)")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - driver hook
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_engine(url: str | URL = DEFAULT_DATABASE_URL) -> AsyncEngine:
    """An async engine with the per-backend settings this bot relies on."""
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(
            target, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S}, pool_pre_ping=False,
            hide_parameters=True,  # an error message never carries a report's text
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(target, pool_pre_ping=True, pool_size=10, max_overflow=10,
                               hide_parameters=True)


class Database:
    """Owns the engine; hands out one short session per handler or job."""

    def __init__(self, url: str | URL = DEFAULT_DATABASE_URL) -> None:
        self.url = make_url(url)
        self.engine = create_engine(self.url)
        self._sessions = async_sessionmaker(
            self.engine, class_=AsyncSession, expire_on_commit=False
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
