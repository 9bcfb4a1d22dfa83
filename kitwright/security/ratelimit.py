"""An in-process token bucket per credential (per worker process: see security.settings)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """`rate` tokens per second refill each bucket up to `burst`; a request takes one."""

    def __init__(self, per_minute: float, burst: float, *, max_keys: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, count: int = 1) -> float | None:
        """None if allowed (`count` requests at once, all or none); otherwise the seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= count:
                self._buckets[key] = (tokens - count, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = (count - tokens) / self.rate
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # forget the least recently seen
            return wait
