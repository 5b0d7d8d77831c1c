"""Request rate limits: a sliding window per key (account, or address for login), in this
process. Answers how long to wait when a key is over its limit."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


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
