"""The hall clock: the system clock, or one started at a chosen instant and run faster (demos, replays)."""
from __future__ import annotations

import datetime as dt
import threading
import time


class Clock:
    """``now()`` is ``start + (elapsed real time) × speed``; with no start, the system clock."""

    def __init__(self, start: dt.datetime | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        if start is not None and start.tzinfo is None:
            raise ValueError("the clock's start needs a UTC offset, e.g. 2026-11-30T09:00:00+08:00")
        self._lock = threading.Lock()
        self._start = start
        self._speed = speed
        self._real_start = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> dt.datetime:
        if self._start is None and self._speed == 1.0:
            return dt.datetime.now(dt.timezone.utc)
        with self._lock:
            start = self._start or dt.datetime.now(dt.timezone.utc)
            elapsed = time.monotonic() - self._real_start
            return (start + dt.timedelta(seconds=elapsed * self._speed)).astimezone(dt.timezone.utc)

    def set(self, instant: dt.datetime) -> None:
        """Jump to ``instant`` (tests and replays)."""
        with self._lock:
            self._start = instant
            self._real_start = time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + dt.timedelta(seconds=seconds))


class ManualClock(Clock):
    """A clock that moves only when told to (set, advance): replays and tests."""

    def __init__(self, start: dt.datetime) -> None:
        super().__init__(start)
        self._now = start

    def now(self) -> dt.datetime:
        return self._now.astimezone(dt.timezone.utc)

    def set(self, instant: dt.datetime) -> None:
        self._now = instant

    def advance(self, seconds: float) -> None:
        self._now = self._now + dt.timedelta(seconds=seconds)


def parse_instant(text: str) -> dt.datetime:
    """Parse an ISO 8601 instant with an offset (``--clock``, ``HALL_CLOCK``)."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it like 2026-11-30T09:00:00+08:00")
    return value
