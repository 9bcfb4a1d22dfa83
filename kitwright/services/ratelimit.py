"""Rate limits that hold across worker processes and hosts (docs/security.md).

Each bucket follows the generic cell rate algorithm: a bucket keeps one number, its
theoretical arrival time (TAT). A request at `now` is allowed when
`max(tat, now) + interval - now <= burst * interval`, and then moves the TAT on by one
interval. One number per bucket means one atomic statement decides and records a request:

- `DatabaseRateLimiter` (the default): an upsert on `rate_limit_bucket` in the service's own
  database, so every worker and host using that database shares each bucket. PostgreSQL locks
  the row for the statement; SQLite has a single writer.
- `RedisRateLimiter` (when KITWRIGHT_REDIS_URL is set): the same rule in a Lua script.

Times come from the app host's clock (`time.time`); hosts sharing limits need synchronised
clocks (NTP), as any multi-host service does.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine, text

from kitwright.store.db import sqlite_write_lock

if TYPE_CHECKING:  # pragma: no cover
    import redis

MAX_KEY = 200
_CLEANUP_EVERY = 1000


class Limiter(Protocol):
    def take(self, key: str, count: int = 1) -> float | None:
        """None if allowed (`count` requests at once, all or none); otherwise the seconds to
        wait before sending again."""


class _Rule:
    def __init__(self, per_minute: float, burst: float) -> None:
        self.interval = 60.0 / per_minute
        self.limit = max(1.0, burst) * self.interval


_UPSERT = {
    "sqlite": """
        INSERT INTO rate_limit_bucket (key, tat, allowed) VALUES (:key, :now + :t, 1)
        ON CONFLICT (key) DO UPDATE SET
            allowed = (max(rate_limit_bucket.tat, :now) + :t - :now <= :limit),
            tat = CASE WHEN max(rate_limit_bucket.tat, :now) + :t - :now <= :limit
                       THEN max(rate_limit_bucket.tat, :now) + :t ELSE rate_limit_bucket.tat END
        RETURNING tat, allowed
    """,
    "postgresql": """
        INSERT INTO rate_limit_bucket (key, tat, allowed) VALUES (:key, :now + :t, true)
        ON CONFLICT (key) DO UPDATE SET
            allowed = (greatest(rate_limit_bucket.tat, :now) + :t - :now <= :limit),
            tat = CASE WHEN greatest(rate_limit_bucket.tat, :now) + :t - :now <= :limit
                       THEN greatest(rate_limit_bucket.tat, :now) + :t ELSE rate_limit_bucket.tat END
        RETURNING tat, allowed
    """,
}


# A worker may charge a few requests at once and admit them locally (a lease), while the
# bucket stays at most half full after the charge: at most this many, at most a second's worth.
LEASE_MAX = 16
LEASE_SECONDS = 1.0


class _Lease:
    __slots__ = ("left", "until")

    def __init__(self, left: int, until: float) -> None:
        self.left, self.until = left, until


class DatabaseRateLimiter:
    """Buckets in the `rate_limit_bucket` table.

    Every admitted request is charged to the shared bucket *before* it is admitted, so the
    workers together never admit more than the limit. To spare one database write per request,
    a worker whose bucket is at most half full after the charge takes a lease: it charges
    `1 + lease` requests in the one statement and admits the next `lease` requests of that
    bucket locally, for at most LEASE_SECONDS. Above half the burst every request is decided
    by the database, one statement each, as without leases. A lease left unused only holds
    back capacity that refills within LEASE_SECONDS; because leases end at half the burst, a
    caller is never refused before really spending half its burst (docs/security.md).
    """

    def __init__(self, engine: Engine, per_minute: float, burst: float, *, prefix: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.rule = _Rule(per_minute, burst)
        self.prefix = prefix
        self.clock = clock
        self.postgres = engine.dialect.name == "postgresql"
        self.statement = text(_UPSERT["postgresql" if self.postgres else "sqlite"])
        self._calls = itertools.count(1)
        self._lock = threading.Lock()
        # Leases only where they fit: none for small bursts (the tests' 2-4), whose every
        # request stays exact.
        self.lease = int(min(LEASE_MAX, max(1.0, burst) / 8, LEASE_SECONDS / self.rule.interval))
        self._half = self.rule.limit / 2
        self._leases: dict[str, _Lease] = {}
        self._no_lease_before: dict[str, float] = {}

    def take_leased(self, key: str, count: int = 1) -> bool:
        """Admit from this worker's lease, without I/O (callers on an event loop try this
        first and call `take` in a thread only when it says no)."""
        if not self.lease:
            return False
        bucket = (self.prefix + key)[:MAX_KEY]
        now = self.clock()
        with self._lock:
            lease = self._leases.get(bucket)
            if lease is not None and lease.until > now and lease.left >= count:
                lease.left -= count
                return True
        return False

    def take(self, key: str, count: int = 1) -> float | None:
        if self.take_leased(key, count):
            return None
        now = self.clock()
        bucket = (self.prefix + key)[:MAX_KEY]
        rule = self.rule
        prepaid: _Lease | None = None  # what is left of a lease, counted towards a larger charge
        if self.lease:
            with self._lock:
                lease = self._leases.get(bucket)
                if lease is not None and (lease.until <= now or lease.left < count):
                    del self._leases[bucket]  # spent or lapsed (another thread may hold a new one)
                    if lease.until > now and lease.left:
                        # Already charged to the bucket: a batch spends it rather than holding it
                        # back on top of its own charge.
                        prepaid = lease
                        count -= lease.left
                try_lease = count == 1 and prepaid is None and self._no_lease_before.get(bucket, 0.0) <= now
            if try_lease:
                leased_cost = rule.interval * (count + self.lease)
                tat, allowed = self._charge(bucket, now, leased_cost, self._half)
                if allowed:
                    with self._lock:
                        self._leases[bucket] = _Lease(self.lease, now + LEASE_SECONDS)
                        self._forget_old(now)
                    return None
        cost = rule.interval * count
        tat, allowed = self._charge(bucket, now, cost, rule.limit)
        if self.lease:
            # When, as far as this worker knows, a lease would again leave the bucket half empty.
            with self._lock:
                self._no_lease_before[bucket] = max(float(tat), now) + rule.interval * (count + self.lease) - self._half
        if allowed:
            return None
        if prepaid is not None:  # refused: the lease stays this worker's to admit with
            with self._lock:
                current = self._leases.get(bucket)
                if current is None:
                    self._leases[bucket] = prepaid
                else:
                    current.left += prepaid.left
        return max(float(tat), now) + cost - now - rule.limit

    def _forget_old(self, now: float) -> None:
        if len(self._leases) > 10_000:
            self._leases = {k: v for k, v in self._leases.items() if v.until > now}
        if len(self._no_lease_before) > 10_000:
            self._no_lease_before = {k: v for k, v in self._no_lease_before.items() if v > now}

    def _charge(self, bucket: str, now: float, cost: float, limit: float) -> tuple[float, bool]:
        """One atomic statement: charge `cost` if the bucket then holds at most `limit`."""
        params = {"key": bucket, "now": now, "t": cost, "limit": limit}
        if self.postgres:
            # One statement in autocommit: one round trip. The table is UNLOGGED, so its commit
            # writes no WAL to wait for: a bucket lost in a crash only forgives a few requests.
            with self.engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                tat, allowed = conn.execute(self.statement, params).one()
                self._cleanup(conn, now)
        else:
            with sqlite_write_lock(), self.engine.begin() as conn:
                tat, allowed = conn.execute(self.statement, params).one()
                self._cleanup(conn, now)
        return float(tat), bool(allowed)

    def _cleanup(self, conn: Any, now: float) -> None:
        with self._lock:
            calls = next(self._calls)
        if calls % _CLEANUP_EVERY == 0:
            # A bucket whose TAT has passed is full again: its row says nothing.
            conn.execute(text("DELETE FROM rate_limit_bucket WHERE tat < :now"), {"now": now})


_LUA = """
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local next_tat = math.max(tat, now) + t
if next_tat - now <= limit then
  redis.call('SET', KEYS[1], string.format('%.6f', next_tat), 'PX', math.ceil((next_tat - now) * 1000) + 1000)
  return ''
end
return string.format('%.6f', next_tat - now - limit)
"""


class RedisRateLimiter:
    """The same buckets in Redis, decided atomically by a Lua script."""

    def __init__(self, client: redis.Redis, per_minute: float, burst: float, *, prefix: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.rule = _Rule(per_minute, burst)
        self.prefix = "kitwright:rate:" + prefix
        self.clock = clock
        self.script: Any = client.register_script(_LUA)

    def take(self, key: str, count: int = 1) -> float | None:
        now = self.clock()
        answer = self.script(keys=[(self.prefix + key)[:MAX_KEY]], args=[repr(now), repr(self.rule.interval * count),
                                                                      repr(self.rule.limit)])
        if not answer:
            return None
        wait = float(answer.decode() if isinstance(answer, bytes) else answer)
        return wait if math.isfinite(wait) and wait > 0 else 1e-3


def make_limiter(engine: Engine, redis_url: str | None, per_minute: float, burst: float, *,
                 prefix: str, clock: Callable[[], float] = time.time) -> Limiter:
    """The limiter the settings ask for: Redis when a URL is given, else the database."""
    if redis_url:
        import redis

        return RedisRateLimiter(redis.Redis.from_url(redis_url), per_minute, burst, prefix=prefix, clock=clock)
    return DatabaseRateLimiter(engine, per_minute, burst, prefix=prefix, clock=clock)
