"""Runs one source on its own interval (with jitter) and records each result in the store.

A poll that raises becomes a typed error in the snapshot; nothing escapes the loop. A source
whose input is not there yet (the offsets source before the first Connect poll) raises
`NotReady`: nothing is recorded and the poll is tried again shortly. Tests call `poll_once`
directly and never start the thread.
"""

from __future__ import annotations

import logging
import random
import threading
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from cdc_watch.core.clock import Clock
from cdc_watch.core.model import ErrorReason, PollResult, SourceError, SourceFailure
from cdc_watch.core.redact import scrub
from cdc_watch.core.snapshot import Snapshot, SnapshotStore

log = logging.getLogger(__name__)

NOT_READY_RETRY_SECONDS = 1.0


class NotReady(Exception):
    """Raised by a source's poll when what it builds on has not been polled yet: not an error."""


class Source(Protocol):
    name: str
    kind: str
    interval: float

    def poll(self, snapshot: Snapshot) -> Any: ...

    def close(self) -> None: ...


ResultHook = Callable[[PollResult, Snapshot], None]


def where_raised(exc: BaseException) -> str:
    """file:line of the innermost frame; the exception message itself may hold reply data."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown location"
    frame = frames[-1]
    return f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


class Poller:
    def __init__(
        self,
        source: Source,
        store: SnapshotStore,
        clock: Clock,
        jitter: float = 0.1,
        on_result: ResultHook | None = None,
        rng: random.Random | None = None,
    ):
        self.source = source
        self.store = store
        self.clock = clock
        self.jitter = jitter
        self.on_result = on_result
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error: SourceError | None = None

    def poll_once(self) -> PollResult | None:
        """One poll, recorded in the store; None when the source was not ready (nothing recorded)."""
        started = self.clock.now()
        t0 = self.clock.monotonic()
        data: Any = None
        error: SourceError | None = None
        try:
            data = self.source.poll(self.store.current())
        except NotReady:
            return None
        except SourceFailure as failure:
            # Sources build safe messages; scrubbing once more here guards logs, the landing
            # page and notifications against one that is not (e.g. a URL with user:password@).
            error = SourceError(failure.reason, scrub(failure.message))
        except Exception as exc:  # a bug or an unforeseen reply: keep the daemon alive
            error = SourceError(ErrorReason.INTERNAL, f"{type(exc).__name__} at {where_raised(exc)}")
        result = PollResult(
            source=self.source.name,
            kind=self.source.kind,
            started_at=started,
            duration=max(0.0, self.clock.monotonic() - t0),
            data=data,
            error=error,
        )
        self._log_transition(error)
        snapshot = self.store.record(result)
        if self.on_result is not None:
            try:
                self.on_result(result, snapshot)
            except Exception as exc:
                log.error(
                    "result hook failed",
                    extra={"source": self.source.name, "error": f"{type(exc).__name__} at {where_raised(exc)}"},
                )
        return result

    def _log_transition(self, error: SourceError | None) -> None:
        previous, self._last_error = self._last_error, error
        if error is not None and error != previous:
            log.warning(
                "poll failed", extra={"source": self.source.name, "reason": str(error.reason), "error": error.message}
            )
        elif error is None and previous is not None:
            log.info("poll recovered", extra={"source": self.source.name})

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"poll {self.source.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        interval = self.source.interval
        delay = self._rng.uniform(0, min(1.0, self.jitter * interval))
        try:
            while not self._stop.wait(delay):
                t0 = self.clock.monotonic()
                if self.poll_once() is None:
                    delay = min(interval, NOT_READY_RETRY_SECONDS)
                    continue
                spread = interval * self._rng.uniform(-self.jitter, self.jitter)
                delay = max(0.0, interval + spread - (self.clock.monotonic() - t0))
        finally:
            self._close_source()  # also when a poll abandoned at stop finishes later

    def _close_source(self) -> None:
        try:
            self.source.close()
        except Exception as exc:
            log.debug("closing the source failed", extra={"source": self.source.name, "error": type(exc).__name__})

    def stop(self) -> None:
        """Ask the thread to end after its current poll; it then closes the source."""
        self._stop.set()
        if self._thread is None:
            self._close_source()

    def join(self, timeout: float) -> bool:
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
