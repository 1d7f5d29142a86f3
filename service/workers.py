"""A bounded worker pool for the CPU-heavy part of a request (parsing a large body, decoding uploaded images).

Run on the event loop, a 12-megapixel PNG or an 8 MiB JSON body would stall every other request, health probes
included. Here at most `threads` such jobs run at once and at most `max_waiting` more wait; beyond that the
request is refused with 503 rather than queued without bound.
"""
import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from service.errors import Overloaded

T = TypeVar("T")
INLINE_BYTES = 64 * 1024  # bodies up to this size are parsed on the event loop: tens of microseconds


class WorkerPool:
    def __init__(self, threads: int, max_waiting: int):
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="decode")
        self._capacity = threads + max_waiting
        self._in_use = 0

    async def run(self, fn: Callable[..., T], *args, inline: bool = False) -> T:
        """fn(*args) on a worker thread (or right here when `inline`: cheap work is not worth the hand-off)."""
        if inline:
            return fn(*args)
        if self._in_use >= self._capacity:
            raise Overloaded("too many uploads are being decoded; retry shortly", {"Retry-After": "1"})
        self._in_use += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._in_use -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
