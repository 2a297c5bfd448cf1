"""A strict fake of the Telegram Bot API for tests: in-process (FakeRequest) or over HTTP.

fake = FakeTelegram()
bot = telegram.Bot(fake.token, request=FakeRequest(fake), get_updates_request=FakeRequest(fake))
fake.user(1001, "Anna")
fake.send_text(1001, "/start")
"""

from .clock import ManualClock
from .core import DEFAULT_TOKEN, FakeTelegram, FaultKind
from .params import Upload
from .ratelimit import RateLimit, RateLimitHit
from .request import FakeRequest
from .server import FakeTelegramServer

__all__ = [
    "DEFAULT_TOKEN",
    "FakeRequest",
    "FakeTelegram",
    "FakeTelegramServer",
    "FaultKind",
    "ManualClock",
    "RateLimit",
    "RateLimitHit",
    "Upload",
]
