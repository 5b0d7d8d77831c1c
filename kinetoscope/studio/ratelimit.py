"""Request rate limits: a sliding window per key (account, or address for login). Answers how
long to wait when a key is over its limit.

``RateLimiter`` counts in this process: right for one API process, the embedded default.
``RedisRateLimiter`` counts in Redis, so every API process behind a load balancer shares one
window per key (used whenever the studio runs with ``KINETOSCOPE_REDIS_URL``). If Redis cannot be
reached it falls back to counting in this process, and says so in the log, rather than refusing
every request or letting every request through.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict, deque

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, limit: int, window: float = 60.0):
        self.limit, self.window = limit, window
        self._hits: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one request; 0 if allowed, else the seconds until one is."""
        if self.limit <= 0:
            return 0.0
        t = time.monotonic()
        with self._lock:
            q = self._hits[key]
            while q and q[0] <= t - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(0.001, q[0] + self.window - t)
            q.append(t)
            if len(self._hits) > 100_000:  # forget idle keys
                for k in [k for k, v in self._hits.items() if not v][:50_000]:
                    del self._hits[k]
            return 0.0


# One sorted set per key, scored by the Redis server's clock (so API processes on machines whose
# clocks differ still share one window). Atomic: the check and the count happen in one script.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return '0'
"""


class RedisRateLimiter:
    """The same sliding window as ``RateLimiter``, kept in Redis under ``kinetoscope:rate:<name>:<key>``."""

    def __init__(self, url: str, limit: int, window: float = 60.0, name: str = "api"):
        import redis

        self.limit, self.window, self.name = limit, window, name
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_SLIDING_WINDOW)
        self._local = RateLimiter(limit, window)
        self._warned = False

    def hit(self, key: str) -> float:
        if self.limit <= 0:
            return 0.0
        import redis

        try:
            wait = float(self._script(keys=[f"kinetoscope:rate:{self.name}:{key}"],
                                      args=[self.window, self.limit, uuid.uuid4().hex]))
        except redis.RedisError as e:
            if not self._warned:
                log.warning("rate limits: Redis unreachable (%s); counting in this process until it is back", e)
                self._warned = True
            return self._local.hit(key)
        self._warned = False
        return max(0.001, wait) if wait > 0 else 0.0


def make_limiter(redis_url: str, limit: int, name: str, window: float = 60.0):
    """The limiter for a studio's settings: shared in Redis when there is one, else in this process."""
    if redis_url and limit > 0:
        return RedisRateLimiter(redis_url, limit, window, name)
    return RateLimiter(limit, window)
