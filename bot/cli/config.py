"""The deployment config as every ``lagesbild`` subcommand reads it: one path rule, one error."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from est.config import ConfigError, DeploymentConfig, default_config_path, load_config
from storage.db import Database


def config_path(settings, explicit: str | None = None) -> Path:
    """An explicit path, else LAGESBILD_CONFIG, else the bundled example config."""
    return Path(explicit or settings.config_path or default_config_path())


def load_or_exit(path: Path) -> DeploymentConfig:
    """The validated config; a broken one is printed in Swedish and exits with 2."""
    try:
        return load_config(path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def in_session(settings, work):
    """Run ``await work(session)`` in one committed transaction; its result."""
    async def run():
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return asyncio.run(run())
