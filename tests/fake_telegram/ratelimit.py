"""Telegram's flood limits on sends, measured with the fake's injected clock."""

import math
from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most ``count`` messages in any rolling window of ``seconds``."""

    count: int
    seconds: float


@dataclass(frozen=True)
class RateLimitHit:
    """A send refused with 429, kept so tests can assert on flood behaviour."""

    method: str
    chat_id: int
    scope: str  # "global", "group" or "private"
    retry_after: int
    at: float


class SendWindows:
    """Timestamps of accepted sends, overall and per chat, trimmed to each window."""

    def __init__(self) -> None:
        self._overall: deque[float] = deque()
        self._per_chat: defaultdict[int, deque[float]] = defaultdict(deque)

    def retry_after(self, limit: RateLimit, now: float, chat_id: int | None = None) -> int | None:
        """Seconds to wait before one more send fits the limit, or None if it fits now."""
        times = self._overall if chat_id is None else self._per_chat[chat_id]
        while times and times[0] <= now - limit.seconds:
            times.popleft()
        if len(times) < limit.count:
            return None
        return max(1, math.ceil(times[0] + limit.seconds - now))

    def record(self, chat_id: int, now: float) -> None:
        self._overall.append(now)
        self._per_chat[chat_id].append(now)


def enforce_telegram_limits(api) -> None:
    """The strict reading of Telegram's flood limits, 429 beyond (FakeTelegram's defaults
    allow bursts of 8 a second in a private chat): 30 messages a second overall, one a
    second per chat, 20 a minute per group."""
    api.enforce_rate_limits = True
    api.global_rate_limit = RateLimit(30, 1.0)
    api.private_rate_limit = RateLimit(1, 1.0)
    api.group_rate_limit = RateLimit(20, 60.0)
