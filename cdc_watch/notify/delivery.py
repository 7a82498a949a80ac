"""Getting notifications out: a bounded queue drained by one worker thread per daemon.

Polling threads only `submit` (never blocks: a full queue drops the item and counts an error).
The worker sends each item through its channel, retries 429 and 5xx answers and connection
errors with exponential backoff (honouring Retry-After, capped), and rate-limits each channel
to `max_per_minute`. Waiting goes through an injected `wait(seconds) -> stopped`, so tests
drive the worker with `run_pending()` and a fake clock and never sleep.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cdc_watch.clock import Clock

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 300.0
RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retry: bool = False  # worth another attempt (429, 5xx, connection error)
    retry_after: float | None = None  # seconds, from the Retry-After header
    detail: str = ""  # safe to log: status code or error class, never a URL or token


class Channel(Protocol):
    name: str

    def send(self, payload: Any) -> Outcome: ...


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare on these APIs and is ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def outcome_for_status(status: int, retry_after: str | None, ok_statuses: tuple[int, ...] = (200, 201, 202, 204)) -> Outcome:
    if status in ok_statuses:
        return Outcome(True, detail=str(status))
    retriable = status == 429 or status >= 500 or status == 408
    return Outcome(False, retry=retriable, retry_after=parse_retry_after(retry_after), detail=f"http {status}")


class Delivery:
    def __init__(
        self,
        channels: Mapping[str, Channel],
        clock: Clock,
        max_per_minute: int = 20,
        max_retries: int = 5,
        queue_size: int = 1000,
        wait: Callable[[float], bool] | None = None,
    ):
        self.channels = dict(channels)
        self.clock = clock
        self.max_per_minute = max_per_minute
        self.max_retries = max_retries
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._sent_at: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._leftover: list[tuple[str, Any]] = []

    # ------------------------------------------------------------------ producer side
    def submit(self, channel: str, payload: Any) -> bool:
        if channel not in self.channels:
            return False
        try:
            self._queue.put_nowait((channel, payload))
            return True
        except queue.Full:
            with self._lock:
                self.errors[channel] += 1
            log.error("notification queue full; dropping a notification", extra={"channel": channel})
            return False

    def pending(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------------ worker side
    def run_pending(self) -> None:
        """Deliver everything queued, in this thread (tests)."""
        while True:
            try:
                channel, payload = self._queue.get_nowait()
            except queue.Empty:
                return
            self._deliver(channel, payload)

    def _respect_rate(self, channel: str) -> bool:
        """Wait until the channel may send; False if stopping."""
        sent = self._sent_at.setdefault(channel, deque())
        while True:
            now = self.clock.monotonic()
            while sent and now - sent[0] >= RATE_WINDOW_SECONDS:
                sent.popleft()
            if len(sent) < self.max_per_minute:
                sent.append(now)
                return True
            delay = RATE_WINDOW_SECONDS - (now - sent[0])
            log.info("notification rate limit reached; delaying", extra={"channel": channel, "delay_seconds": round(delay, 1)})
            if self._wait(max(delay, 0.01)):
                return False

    def _deliver(self, channel: str, payload: Any) -> None:
        target = self.channels[channel]
        for attempt in range(self.max_retries + 1):
            if not self._respect_rate(channel):
                self._leftover.append((channel, payload))
                return
            try:
                outcome = target.send(payload)
            except Exception as exc:  # a channel must never kill the worker
                outcome = Outcome(False, retry=True, detail=type(exc).__name__)
            if outcome.ok:
                with self._lock:
                    self.sent[channel] += 1
                return
            with self._lock:
                self.errors[channel] += 1
            if not outcome.retry or attempt == self.max_retries:
                _channel_log(channel).error(
                    "notification not delivered; giving up",
                    extra={"channel": channel, "error": outcome.detail, "attempts": attempt + 1},
                )
                return
            delay = outcome.retry_after if outcome.retry_after is not None else min(MAX_BACKOFF_SECONDS, 2.0**attempt)
            _channel_log(channel).warning(
                "notification delivery failed; retrying",
                extra={"channel": channel, "error": outcome.detail, "attempt": attempt + 1, "retry_in_seconds": delay},
            )
            if self._wait(delay):
                self._leftover.append((channel, payload))
                return

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                channel, payload = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self._deliver(channel, payload)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def stop(self, budget: float) -> list[tuple[str, Any]]:
        """Stop the worker; returns what was not delivered (to persist for the next start)."""
        deadline = self.clock.monotonic() + budget
        while self._thread is not None and not self._queue.empty() and self.clock.monotonic() < deadline:
            self._stop.wait(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - self.clock.monotonic()))
        left = list(self._leftover)
        while True:
            try:
                left.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._leftover = []
        return left


def _channel_log(channel: str) -> logging.Logger:
    """Failures of the Sentry channel log under a logger Sentry ignores (no feedback loop)."""
    return logging.getLogger(f"{__name__}.{channel}")
