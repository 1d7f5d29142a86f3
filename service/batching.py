"""Dynamic batching: concurrent requests to one model are merged into one session.run on a worker thread.

A request first takes a reservation (`async with batcher.reserve() as slot`), which announces it, then parses its
body and submits (`await slot.submit(x)`). The worker thread takes queued requests up to the model's batch limit,
waiting at most `max_delay_s` after the first, but only while announced requests are still on their way, so a lone
client never pays the window. A request that finds the model idle and nobody else announced runs inline on the
event loop when its estimated compute fits `inline_budget_s`: two thread hand-offs cost more than a small model.
"""
import asyncio
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np

from service.errors import Overloaded
from service.metrics import Metrics
from service.runtime import ModelRuntime


@dataclass
class Result:
    output: np.ndarray  # [n, *output dims]
    queue_s: float
    compute_s: float
    batch_size: int


@dataclass
class _Item:
    x: np.ndarray  # [n, *input dims]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    enqueued: float


class Slot:
    """A reserved place in the batcher; `submit` once, inside the `reserve()` block."""

    def __init__(self, batcher: "Batcher"):
        self._batcher, self.submitted = batcher, False

    async def submit(self, x: np.ndarray) -> Result:
        self.submitted = True
        return await self._batcher.submit(x)


class Batcher:
    def __init__(self, model: ModelRuntime, max_delay_s: float, max_queue: int, metrics: Metrics,
                 inline_budget_s: float = 0.0):
        self.model, self.max_delay_s, self.max_queue = model, max_delay_s, max_queue
        self.inline_budget_s = inline_budget_s
        self._items: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._pending = 0  # images queued, not yet taken
        self._announced = 0  # reservations that have not submitted yet
        self._running = False  # a session.run of this model is in progress
        self._closed = False
        self._queue = metrics.queue_seconds.labels(model.name)
        self._compute = metrics.compute_seconds.labels(model.name)
        self._batch_size = metrics.batch_size.labels(model.name)
        self._inferences = metrics.inferences.labels(model.name)
        self._gauge = metrics.pending.labels(model.name)
        self._thread = threading.Thread(target=self._loop, name=f"batcher-{model.name}", daemon=True)
        self._thread.start()

    @asynccontextmanager
    async def reserve(self):
        """Announce a request, then yield to the event loop once so requests that arrived together announce
        themselves too before anyone decides between running inline and batching."""
        with self._cond:
            self._announced += 1
        slot = Slot(self)
        try:
            await asyncio.sleep(0)
            yield slot
        finally:
            if not slot.submitted:
                with self._cond:
                    self._announced -= 1
                    self._cond.notify()

    async def submit(self, x: np.ndarray) -> Result:
        loop = asyncio.get_running_loop()
        with self._cond:
            self._announced -= 1
            if self._closed:
                raise Overloaded("server is shutting down", {"Retry-After": "1"})
            inline = self._may_run_inline(len(x))
            if inline:  # the worker thread has nothing queued: no need to wake it (a wake-up costs a GIL hand-off)
                self._running = True
            else:
                if self._pending + len(x) > self.max_queue:
                    raise Overloaded(f"model {self.model.name}: queue full ({self._pending} images pending)",
                                     {"Retry-After": "1"})
                self._pending += len(x)
                item = _Item(x, loop.create_future(), loop, time.perf_counter())
                self._items.append(item)
                self._cond.notify()
        if inline:
            return self._run_inline(x)
        self._gauge.set(self._pending)
        return await item.future

    def _may_run_inline(self, n: int) -> bool:
        return (not self._items and not self._running and self._announced == 0
                and n * self.model.seconds_per_image <= self.inline_budget_s)

    def _run_inline(self, x: np.ndarray) -> Result:
        start = time.perf_counter()
        try:
            output = self.model.run(x)
        finally:
            with self._cond:  # nothing was queued meanwhile (the event loop was busy here), so nobody to wake
                self._running = False
        compute = time.perf_counter() - start
        self._queue.observe(0.0)
        self._observe(len(x), compute)
        return Result(output, 0.0, compute, len(x))

    def idle(self) -> bool:
        """Nothing announced, queued or running: safe to close once no new request can reach it."""
        with self._cond:
            return not self._items and not self._running and self._announced == 0

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (items := self._take()) is not None:
            self._run(items)

    def _take(self) -> list[_Item] | None:
        """The next batch: wait for a first item (and for an inline run to finish), then gather more while
        announced requests may still join and the window is open."""
        with self._cond:
            while (not self._items or self._running) and not self._closed:
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
                    if self.max_delay_s <= 0:  # batching disabled: one request per run
                        break
                    continue
                remaining = deadline - time.perf_counter()
                if self._announced <= 0 or remaining <= 0:
                    break
                self._cond.wait(remaining)
            self._pending -= n
            self._running = True
            return items

    def _run(self, items: list[_Item]) -> None:
        self._gauge.set(self._pending)
        start = time.perf_counter()
        try:
            x = items[0].x if len(items) == 1 else np.concatenate([i.x for i in items])
            output = self.model.run(x)
        except Exception as e:
            for item in items:
                item.loop.call_soon_threadsafe(_set_exception, item.future, e)
            return
        finally:
            with self._cond:
                self._running = False
        compute = time.perf_counter() - start
        self._observe(len(x), compute)
        offset = 0
        for item in items:
            n = len(item.x)
            result = Result(output[offset:offset + n], start - item.enqueued, compute, len(x))
            self._queue.observe(result.queue_s)
            item.loop.call_soon_threadsafe(_set_result, item.future, result)
            offset += n

    def _observe(self, n: int, compute: float) -> None:
        self.model.stats.execution(n, compute)
        self._compute.observe(compute)
        self._batch_size.observe(n)
        self._inferences.inc(n)


def _set_result(future: asyncio.Future, result: Result) -> None:
    if not future.done():  # the client may have gone away
        future.set_result(result)


def _set_exception(future: asyncio.Future, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
