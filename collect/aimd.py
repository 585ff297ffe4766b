"""Requests at once for a server that does not say how many it serves: additive increase,
multiplicative decrease (AIMD), as TCP does.

Start low. While answers come back about as fast as the fastest seen, grow by one request per
answer (slow start); once latency rises (requests begin to wait in the server), by one per `limit`
answers; on a timeout, a 429 or 5xx, or a latency past `tolerance` x the fastest, halve. The limit
never passes `ceiling` (--concurrency) nor goes under one.
"""

from __future__ import annotations

import asyncio


class AdaptiveLimit:
    def __init__(self, ceiling: int, start: int = 2, tolerance: float = 2.0):
        self.ceiling = max(1, ceiling)
        self.limit = float(min(max(1, start), self.ceiling))
        self.tolerance = tolerance
        self.fastest: float | None = None
        self.inflight = 0
        self.slow_start = True          # no congestion seen yet: grow by one per answer
        self.peak = int(self.limit)
        self._cond: asyncio.Condition | None = None

    async def acquire(self) -> None:
        if self._cond is None:
            self._cond = asyncio.Condition()
        async with self._cond:
            await self._cond.wait_for(lambda: self.inflight < int(self.limit))
            self.inflight += 1

    async def release(self, latency: float | None, congested: bool) -> None:
        """`latency` of an answered request (None when it got none); `congested`: a timeout,
        429 or 5xx."""
        self.observe(latency, congested)
        async with self._cond:
            self.inflight -= 1
            self._cond.notify_all()

    def observe(self, latency: float | None, congested: bool) -> None:
        if latency is not None and not congested:
            self.fastest = latency if self.fastest is None else min(self.fastest, latency)
            if latency > 1.2 * self.fastest + 0.02:
                self.slow_start = False
            congested = latency > self.tolerance * self.fastest + 0.05
        if congested:
            self.slow_start = False
            self.limit = max(1.0, self.limit / 2)
        else:
            self.limit = min(float(self.ceiling), self.limit + (1.0 if self.slow_start else 1.0 / self.limit))
        self.peak = max(self.peak, int(self.limit))
