"""Telegram side of lägesbild: wiring, dialogs, commands, access control."""

import os

# RetryAfter.retry_after as a timedelta: PTB 22's announced future behaviour, and
# no deprecation warning from the rate limiter on every 429.
os.environ.setdefault("PTB_TIMEDELTA", "1")
