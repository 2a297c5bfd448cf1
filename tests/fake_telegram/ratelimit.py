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
