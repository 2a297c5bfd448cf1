"""A hand-driven clock for tests of rate limits and timing."""


class ManualClock:
    """Callable like ``time.monotonic``; moves only when a test calls ``advance``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
