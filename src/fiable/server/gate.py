"""The generation gate: one answer at a time on the local model, a bounded FIFO queue.

A request past ``capacity`` waiting ones is refused at once (QueueFull), one that waits
longer than ``timeout`` gives up (QueueTimeout); both become 503 with ``Retry-After``.
Waiters are served in arrival order (asyncio.Semaphore wakes them FIFO), so a flood from
one client cannot starve the others already waiting.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import AsyncIterator

__all__ = ["GenerationGate", "QueueFull", "QueueTimeout"]


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("queue full")
        self.retry_after = retry_after


class QueueTimeout(QueueFull):
    pass


class GenerationGate:
    def __init__(self, *, slots: int = 1, capacity: int = 16, timeout: float = 120.0) -> None:
        self.slots, self.capacity, self.timeout = slots, capacity, timeout
        self._semaphore = asyncio.Semaphore(slots)
        self.waiting = 0
        self.running = 0
        self._recent = 2.0  # seconds an answer takes, smoothed (for Retry-After)

    def retry_after(self) -> int:
        return max(1, round(self._recent * (self.waiting + 1) / self.slots))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.waiting >= self.capacity:
            raise QueueFull(self.retry_after())
        self.waiting += 1
        try:
            await asyncio.wait_for(self._semaphore.acquire(), timeout=self.timeout)
        except asyncio.TimeoutError:
            raise QueueTimeout(self.retry_after()) from None
        finally:
            self.waiting -= 1
        self.running += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.running -= 1
            self._recent = 0.8 * self._recent + 0.2 * (time.perf_counter() - started)
            self._semaphore.release()
