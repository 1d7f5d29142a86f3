"""Dynamic batching: concurrent requests to one model are merged into one session.run on a worker thread.

The event loop only enqueues and awaits; one thread per model takes queued requests up to `max_batch`
images, waiting at most `max_delay_s` after the first one, but only while more requests are known to be on
their way (announced by the routers), so a lone client never pays the window. max_delay_s=0 disables merging.
"""
import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from service.errors import Overloaded
from service.metrics import Metrics
from service.runtime import ModelRuntime


@dataclass
class Result:
    logits: np.ndarray  # [n, 10]
    queue_s: float
    compute_s: float
    batch_size: int


@dataclass
class _Item:
    x: np.ndarray  # [n, 1, 28, 28]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float
    announced: bool


class Batcher:
    def __init__(self, model: ModelRuntime, max_delay_s: float, max_queue: int, metrics: Metrics):
        self.model, self.max_delay_s, self.max_queue, self.metrics = model, max_delay_s, max_queue, metrics
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._pending = 0  # images queued, not yet taken
        self._announced = 0  # requests being parsed that will submit soon
        self._closed = False
        self._gauge = metrics.pending.labels(model.name)
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{model.name}", daemon=True)
        self._thread.start()

    def announce(self) -> None:
        with self._cond:
            self._announced += 1

    def withdraw(self) -> None:
        """The announced request failed before submitting."""
        with self._cond:
            self._announced -= 1

    async def submit(self, x: np.ndarray, announced: bool = False) -> Result:
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._closed:
                raise Overloaded("server is shutting down", {"Retry-After": "1"})
            if self._pending + len(x) > self.max_queue:
                if announced:
                    self._announced -= 1
                raise Overloaded(f"model {self.model.name}: queue full ({self._pending} images pending)",
                                 {"Retry-After": "1"})
            self._pending += len(x)
            item = _Item(x, loop.create_future(), loop, time.perf_counter(), announced)
            self._items.append(item)
            self._cond.notify()
        self._gauge.set(self._pending)
        return await item.future

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (items := self._take()) is not None:
            self._run(items)

    def _take(self) -> list[_Item] | None:
        with self._cond:
            while not self._items and not self._closed:
                self._cond.wait()
            if not self._items:
                return None
            items, n = [], 0
            deadline = self._items[0].enqueued + self.max_delay_s
            while n < self.model.max_batch_size:
                if self._items:
                    if n and n + len(self._items[0].x) > self.model.max_batch_size:
                        break
                    item = self._items.popleft()
                    items.append(item)
                    n += len(item.x)
                    self._announced -= item.announced
                    if self.max_delay_s <= 0:  # batching disabled: one request per run
                        break
                    continue
                remaining = deadline - time.perf_counter()
                if self._announced <= 0 or remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._pending -= n
            return items

    def _run(self, items: list[_Item]) -> None:
        self._gauge.set(self._pending)
        start = time.perf_counter()
        try:
            x = items[0].x if len(items) == 1 else np.concatenate([i.x for i in items])
            logits = self.model.run(x)
        except Exception as e:  # noqa: BLE001 - delivered to every waiting request
            for item in items:
                item.loop.call_soon_threadsafe(_set_exception, item.future, e)
            return
        compute = time.perf_counter() - start
        self._observe(len(x), compute)
        offset = 0
        for item in items:
            n = len(item.x)
            result = Result(logits[offset:offset + n], start - item.enqueued, compute, len(x))
            item.loop.call_soon_threadsafe(_set_result, item.future, result)
            offset += n

    def _observe(self, n: int, compute: float) -> None:
        name = self.model.name
        self.metrics.compute_seconds.labels(name).observe(compute)
        self.metrics.batch_size.labels(name).observe(n)
        self.metrics.inferences.labels(name).inc(n)


def _set_result(future: asyncio.Future, result: Result) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(result)


def _set_exception(future: asyncio.Future, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
