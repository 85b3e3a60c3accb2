"""A clock the queue tests set by hand (QueueService.now_ms replaced by it)."""

from __future__ import annotations

T0 = 1_800_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)
