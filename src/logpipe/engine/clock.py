"""Time for waits and retries, in one replaceable place: tests swap in a clock that never sleeps."""

from __future__ import annotations

import time


class Clock:
    """Monotonic seconds and sleeping."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
