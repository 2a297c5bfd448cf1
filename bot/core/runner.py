"""``lagesbild run``: start, poll until SIGTERM/SIGINT, shut down cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from telegram.error import InvalidToken

from bot.core.app import build_application
from bot.core.commands_menu import publish_commands
from bot.core.services import Services
from bot.core.updates import DurablePoller
from bot.outbound.schedule import catch_up
from est.config import DeploymentConfig
from storage.db import Database

log = logging.getLogger(__name__)
DRAIN_TIMEOUT_S = 20


async def serve(config: DeploymentConfig, *, token: str, database_url: str,
                base_url: str | None = None) -> int:
    db = Database(database_url)
    services = Services(config=config, db=db)
    application = build_application(services, token, base_url=base_url)
    poller = DurablePoller(application, services.inbox, services.clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await application.initialize()
    except InvalidToken:
        log.error("Telegram avvisade BOT_TOKEN (ogiltig token).")
        await db.dispose()
        return 2
    catching_up: asyncio.Task | None = None
    try:
        await publish_commands(application)
        await application.start()
        replayed = await poller.resume()
        # Posts missed while down (sent late within the grace, else the admins are told),
        # and broadcasts a restart interrupted. In a task: polling starts at once.
        catching_up = asyncio.create_task(catch_up(application), name="schedule-catch-up")
        log.info("lägesbild for %s is running as @%s (%d update(s) replayed)",
                 config.kommun, application.bot.username, replayed)
        polling = asyncio.create_task(poller.run(), name="durable-poller")
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if polling in done:
            polling.result()  # raises InvalidToken and the like
        log.info("stopping: no new updates; finishing those in hand")
        poller.stop()
        # Fetched-but-unstored updates are simply not confirmed: Telegram resends them.
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        try:
            await asyncio.wait_for(application.update_queue.join(), DRAIN_TIMEOUT_S)
            await asyncio.wait_for(services.drain(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            log.warning("shutdown with updates still in hand; they are replayed at start")
        stopping.cancel()
    finally:
        if catching_up is not None:
            await _finish(catching_up)
        if application.running:
            await application.stop()
        await application.shutdown()
        await db.dispose()
    return 0


async def _finish(task: asyncio.Task) -> None:
    """Let the catch-up end its sends (a lease left behind delays a delivery 10 min)."""
    try:
        await asyncio.wait_for(task, DRAIN_TIMEOUT_S)
    except TimeoutError:
        log.warning("catch-up still sending at shutdown; the rest is resumed at start")
    except Exception:
        log.exception("catch-up failed")
