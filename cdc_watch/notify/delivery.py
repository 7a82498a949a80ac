"""Getting notifications out: one queue, one schedule and one worker thread per channel.

Producers only `submit` (never blocks). Each queued channel (Slack, Sentry) has its own FIFO queue,
its own rate window (`max_per_minute`) and its own backoff (exponential, or Retry-After,
capped), so a stalled or rate-limited Sentry never delays a Slack message.

The schedule is non-blocking: `ChannelQueue.pump()` sends what is due now and returns when the
channel may send next. Worker threads wait on a condition until then; tests call `pump()` or
`run_pending()` (which waits through an injected `wait(seconds) -> stopped`, a fake clock) and
never sleep.

Items may carry an `ident`: the owner (the alerting service) keeps those in its write-ahead
outbox and is told through `on_done(ident, delivered)` when one leaves the queue for good
(delivered, given up, or evicted), so a restart re-sends exactly what was not delivered.

A full queue evicts, oldest first, the daemon's own log events, then repeats and notices;
firing and resolved messages are never evicted (they may exceed `queue_size`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cdc_watch.core.clock import Clock
from cdc_watch.notify.channel import Outcome, Sender

MAX_BACKOFF_SECONDS = 60.0
RATE_WINDOW_SECONDS = 60.0
FULL_LOG_EVERY_SECONDS = 60.0


@dataclass(slots=True)
class Item:
    payload: Any
    ident: str | None = None  # outbox id: the owner keeps the item until on_done(ident, ...)
    droppable: bool = True  # may be evicted by a full queue (log events, repeats, notices)
    attempts: int = 0  # failed attempts so far


Done = Callable[[str, bool], None]


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()


def channel_log(channel: str) -> logging.Logger:
    """Per-channel logger under this module's, which Sentry's logging integration ignores:
    a delivery problem must not become an event that fills the queue again."""
    return logging.getLogger(f"{__name__}.{channel}")


class PumpWorker:
    """The worker thread of a non-blocking schedule: calls `pump()` (send what is due, return
    when to try again or None when idle) and waits on `_cond` until then, a `_has_work()` change
    or `stop(deadline)`. Subclasses set `name`, `clock`, `_cond`, `_deadline` and `_thread`."""

    name: str
    clock: Clock
    _cond: threading.Condition
    _deadline: float | None
    _thread: threading.Thread | None
    thread_prefix = "notify"

    def pump(self) -> float | None:
        raise NotImplementedError

    def _has_work(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"{self.thread_prefix} {self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            due = self.pump()
            with self._cond:
                if self._deadline is not None and (due is None or due >= self._deadline or not self._has_work()):
                    return
                if due is None:
                    if self._has_work():
                        continue  # submitted while we pumped
                    self._cond.wait()
                else:
                    until = due if self._deadline is None else min(due, self._deadline)
                    self._cond.wait(max(0.0, until - self.clock.monotonic()))

    def stop(self, deadline: float) -> None:
        """No send starts after `deadline` (monotonic); returns at once."""
        with self._cond:
            self._deadline = deadline
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


class ChannelQueue(PumpWorker):
    """The queue, rate window and backoff of one channel; `pump` sends what is due."""

    def __init__(
        self,
        name: str,
        channel: Sender,
        clock: Clock,
        counts: _Counts,
        done: Callable[[], Done | None],
        max_per_minute: int,
        max_retries: int,
        queue_size: int,
    ):
        self.name = name
        self.channel = channel
        self.clock = clock
        self._counts = counts
        self._done = done
        self.max_per_minute = max_per_minute
        self.max_retries = max_retries
        self.queue_size = queue_size
        self._items: deque[Item] = deque()
        self._inflight: Item | None = None
        self._cond = threading.Condition()
        self._not_before = float("-inf")  # monotonic: backoff or Retry-After of the channel
        self._sent_at: deque[float] = deque()
        self._deadline: float | None = None  # set by stop(): no send starts after it
        self._thread: threading.Thread | None = None
        self._log = channel_log(name)
        self._dropped = 0
        self._full_logged_at = float("-inf")

    # ------------------------------------------------------------------ producer side
    def submit(self, item: Item) -> bool:
        """Queue an item; False if it was dropped (queue full)."""
        evicted: Item | None = None
        accepted = True
        with self._cond:
            if len(self._items) >= self.queue_size:
                evicted = self._evict_for(item)
                if evicted is item:
                    accepted = False
                elif evicted is not None:
                    self._items.remove(evicted)
            if accepted:
                self._items.append(item)
                self._cond.notify()
        if evicted is not None:
            self._note_drop()
            self._finish(evicted, delivered=False)
        return accepted

    def _evict_for(self, new: Item) -> Item | None:
        """What a full queue gives up for `new`: the oldest log event, then (for a persisted
        item) the oldest droppable one; `new` itself when nothing may go; None to keep all."""
        for old in self._items:
            if old.ident is None:
                return old
        if new.ident is None:
            return new
        for old in self._items:
            if old.droppable:
                return old
        return new if new.droppable else None

    def _note_drop(self) -> None:
        with self._counts.lock:
            self._counts.errors[self.name] += 1
            self._dropped += 1
            now = self.clock.monotonic()
            if now - self._full_logged_at < FULL_LOG_EVERY_SECONDS:
                return  # one line a minute, not one per drop
            self._full_logged_at, dropped, self._dropped = now, self._dropped, 0
        self._log.warning(
            "notification queue full; dropping notifications", extra={"channel": self.name, "dropped": dropped}
        )

    def pending(self) -> int:
        with self._cond:
            return len(self._items) + (self._inflight is not None)

    def snapshot(self) -> list[Item]:
        with self._cond:
            return ([self._inflight] if self._inflight is not None else []) + list(self._items)

    # ------------------------------------------------------------------ the schedule
    def _due(self, now: float) -> float:
        while self._sent_at and now - self._sent_at[0] >= RATE_WINDOW_SECONDS:
            self._sent_at.popleft()
        due = self._not_before
        if len(self._sent_at) >= self.max_per_minute:
            due = max(due, self._sent_at[0] + RATE_WINDOW_SECONDS)
        return due

    def pump(self) -> float | None:
        """Send every item that is due; the monotonic time to try again, None when idle."""
        while True:
            with self._cond:
                if not self._items:
                    return None
                now = self.clock.monotonic()
                if self._deadline is not None and now >= self._deadline:
                    return None  # stopping: what is left stays with its owner
                due = self._due(now)
                if due > now:
                    return due
                item = self._inflight = self._items.popleft()
                self._sent_at.append(now)
            try:
                outcome = self.channel.send(item.payload)
            except Exception as exc:  # a channel must never kill the worker
                outcome = Outcome(False, retry=True, detail=type(exc).__name__)
            finished = self._settle(item, outcome)
            if finished is not None:
                self._finish(item, finished)

    def _settle(self, item: Item, outcome: Outcome) -> bool | None:
        """Count the outcome; True/False when the item is done (delivered or not), None to retry."""
        with self._counts.lock:
            (self._counts.sent if outcome.ok else self._counts.errors)[self.name] += 1
        if outcome.ok:
            with self._cond:
                self._inflight = None
            return True
        item.attempts += 1
        # Past max_retries a droppable item is given up; a firing or resolved message keeps
        # being retried (every MAX_BACKOFF_SECONDS), so an outage of the channel never loses
        # the RESOLVED of an alert it announced. A refusal (4xx) gives up either way.
        exhausted = item.attempts > self.max_retries
        if not outcome.retry or (exhausted and item.droppable):
            with self._cond:
                self._inflight = None
            self._log.error(
                "notification not delivered; giving up",
                extra={"channel": self.name, "error": outcome.detail, "attempts": item.attempts},
            )
            return False
        backoff = MAX_BACKOFF_SECONDS if exhausted else min(MAX_BACKOFF_SECONDS, 2.0 ** (item.attempts - 1))
        delay = outcome.retry_after if outcome.retry_after is not None else backoff
        with self._cond:
            self._inflight = None
            self._not_before = self.clock.monotonic() + delay
            self._items.appendleft(item)  # keeps its place: messages go out in order
        self._log.warning(
            "notification delivery failed; retrying",
            extra={"channel": self.name, "error": outcome.detail, "attempt": item.attempts, "retry_in_seconds": delay},
        )
        return None

    def _finish(self, item: Item, delivered: bool) -> None:
        done = self._done()
        if item.ident is not None and done is not None:
            try:
                done(item.ident, delivered)
            except Exception as exc:  # the owner's bookkeeping must not kill the worker
                self._log.error("delivery callback failed", extra={"channel": self.name, "error": type(exc).__name__})

    def _has_work(self) -> bool:
        return bool(self._items)


class Delivery:
    def __init__(
        self,
        channels: Mapping[str, Sender],
        clock: Clock,
        max_per_minute: int = 20,
        max_retries: int = 5,
        queue_size: int = 1000,
        wait: Callable[[float], bool] | None = None,
        on_done: Done | None = None,
    ):
        self.channels = dict(channels)
        self.clock = clock
        self.on_done = on_done
        self._counts = _Counts()
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self.queues = {
            name: ChannelQueue(
                name, channel, clock, self._counts, lambda: self.on_done, max_per_minute, max_retries, queue_size
            )
            for name, channel in self.channels.items()
        }

    @property
    def sent(self) -> Counter[str]:
        with self._counts.lock:
            return Counter(self._counts.sent)

    @property
    def errors(self) -> Counter[str]:
        with self._counts.lock:
            return Counter(self._counts.errors)

    # ------------------------------------------------------------------ producer side
    def submit(self, channel: str, payload: Any, ident: str | None = None, droppable: bool = True) -> bool:
        queue = self.queues.get(channel)
        if queue is None:
            return False
        return queue.submit(Item(payload, ident, droppable))

    def pending(self, channel: str | None = None) -> int:
        return sum(q.pending() for name, q in self.queues.items() if channel in (None, name))

    # ------------------------------------------------------------------ worker side
    def pump(self) -> dict[str, float | None]:
        """One non-blocking pass over every channel: when each may send next (None: idle)."""
        return {name: queue.pump() for name, queue in self.queues.items()}

    def run_pending(self) -> None:
        """Deliver everything queued, in this thread, waiting through `wait` (tests)."""
        while True:
            dues = [due for due in self.pump().values() if due is not None]
            if not dues:
                return
            if self._wait(max(min(dues) - self.clock.monotonic(), 0.001)):
                return

    def start(self) -> None:
        for queue in self.queues.values():
            queue.start()

    def stop(self, budget: float) -> list[tuple[str, Any]]:
        """Send what is due within `budget`, stop the workers; returns what was not delivered
        (its owner keeps persisted items; an in-flight send is abandoned, never waited on)."""
        deadline = self.clock.monotonic() + budget
        self._stop.set()
        for queue in self.queues.values():
            queue.stop(deadline)
        for queue in self.queues.values():
            queue.join(max(0.05, deadline - self.clock.monotonic()))
        return [(name, item.payload) for name, queue in self.queues.items() for item in queue.snapshot()]
