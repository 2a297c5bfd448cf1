"""Outgoing requests: Telegram's rate limits, plus retries with back-off.

AIORateLimiter keeps to 30 msg/s overall and 20 msg/min per group and retries
after a 429. Network errors and 5xx answers are retried here too, a few times
with growing pauses. Bad requests and 403 are never retried: they would fail
the same way again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter

log = logging.getLogger(__name__)


class RetryingRateLimiter(AIORateLimiter):
    def __init__(self, *, network_retries: int = 3, first_pause: float = 0.5,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 max_retries: int = 3, **kwargs: Any) -> None:
        super().__init__(max_retries=max_retries, **kwargs)
        self.network_retries = network_retries
        self.first_pause = first_pause
        self.sleep = sleep  # injectable: tests pass a no-op, delivery pacing reuses it

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        pause = self.first_pause
        for attempt in range(self.network_retries + 1):
            try:
                return await super().process_request(
                    callback, args, kwargs, endpoint, data, rate_limit_args
                )
            except BadRequest:
                raise
            except NetworkError as exc:  # includes TimedOut and 5xx answers
                if attempt == self.network_retries:
                    raise
                log.warning("%s failed (%s); retry %d in %.1fs", endpoint, exc,
                            attempt + 1, pause)
                await self.sleep(pause)
                pause *= 2
        raise AssertionError("unreachable")
