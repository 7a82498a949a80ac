"""Getting notifications out: one queue, one schedule and one worker thread per channel.

Producers only `submit` (never blocks). Each queued channel (Slack, Sentry) has its own FIFO queue,
its own rate window (`max_per_minute`) and its own backoff (exponential, or Retry-After,
capped), so a stalled or rate-limited Sentry never delays a Slack message.

The schedule is non-blocking: `ChannelQueue.pump()` sends what is due now and returns when the
channel may send next. Worker threads wait on a condition until then; tests call `pump()` or
`run_pending()` (which waits through an injected `wait(seconds) -> stopped`, a fake clock) and
never sleep.

Items may carry an `ident`: those are persisted in the `Outbox` (below), an append-only journal
next to the state file, written before the item is queued and marked done when it leaves the
queue for good (delivered, given up, or evicted), so a restart re-sends exactly what was not
delivered. `on_done(ident, delivered)` tells the owner too.

Each queue is bounded in items (`queue_size`) and bytes (`queue_bytes`). Past either bound the
lowest-priority item goes, oldest first: the daemon's own log events, then repeats and
restart notices, then resolved messages, and a firing message last. Every drop is counted by
channel and kind (`dropped`, exported as cdc_notifications_dropped_total) and logged (one
line a minute per channel).

A re-send after a crash is made harmless where the channel allows it: a channel may return a
`receipt` with a delivery (Slack's Web API: channel and ts), which the outbox journals; an item
re-queued with a receipt goes to the channel's `update` (chat.update) instead of `send`.
Sentry events carry a fixed event id (see sentry.py). What can still go out twice is listed in
docs/notifications.md.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cdc_watch.core.clock import Clock
from cdc_watch.core.statefile import Hook, Journal, line_size
from cdc_watch.notify.channel import Outcome, Sender

GATE_RETRY_SECONDS = 0.5  # a queue held by the HA gate looks again this often

MAX_BACKOFF_SECONDS = 60.0
RATE_WINDOW_SECONDS = 60.0
FULL_LOG_EVERY_SECONDS = 60.0
DEFAULT_QUEUE_BYTES = 16 << 20

# What a full queue gives up first (lowest first, oldest first within a rank).
KIND_PRIORITY = {"log": 0, "notice": 1, "repeat": 1, "resolved": 2, "firing": 3}
KINDS = tuple(KIND_PRIORITY)


@dataclass(slots=True)
class Item:
    payload: Any
    ident: str | None = None  # outbox id: the owner keeps the item until on_done(ident, ...)
    droppable: bool = True  # given up after max_retries (log events, repeats, notices)
    attempts: int = 0  # failed attempts so far
    kind: str = ""  # one of KINDS; "" derives it: no ident -> log, droppable -> repeat, else firing
    receipt: Mapping[str, str] | None = None  # set once delivered by a channel that can update
    size: int = 0  # bytes it counts against queue_bytes

    def __post_init__(self) -> None:
        if self.kind not in KIND_PRIORITY:
            self.kind = "log" if self.ident is None else "repeat" if self.droppable else "firing"
        if not self.size:
            self.size = payload_size(self.payload)


def payload_size(payload: Any) -> int:
    if isinstance(payload, (str, bytes)):
        return len(payload)
    try:
        return len(json.dumps(payload, separators=(",", ":")))
    except (TypeError, ValueError):
        return len(repr(payload))


Done = Callable[[str, bool], None]


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.dropped: Counter[tuple[str, str]] = Counter()  # (channel, kind): given up by a full queue


log = logging.getLogger(__name__)


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
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        outbox: Callable[[], Outbox | None] = lambda: None,
        gate: Callable[[], bool] = lambda: True,
    ):
        self.name = name
        self._gate = gate  # False: hold every send (an HA replica that is not the leader)
        self.channel = channel
        self.clock = clock
        self._counts = counts
        self._done = done
        self._outbox = outbox
        self.max_per_minute = max_per_minute
        self.max_retries = max_retries
        self.queue_size = queue_size
        self.queue_bytes = queue_bytes
        self._items: deque[Item] = deque()
        self._bytes = 0
        self._inflight: Item | None = None
        self._cond = threading.Condition()
        self._not_before = float("-inf")  # monotonic: backoff or Retry-After of the channel
        self._sent_at: deque[float] = deque()
        self._deadline: float | None = None  # set by stop(): no send starts after it
        self._thread: threading.Thread | None = None
        self._log = channel_log(name)
        self._dropped: Counter[str] = Counter()  # by kind, since the last "queue full" line
        self._full_logged_at = float("-inf")

    # ------------------------------------------------------------------ producer side
    def submit(self, item: Item) -> bool:
        """Queue an item; False if it was dropped (a full queue had nothing of lower priority)."""
        evicted: list[Item] = []
        with self._cond:
            if item.size > self.queue_bytes:
                evicted.append(item)  # could never fit: it would push out everything else first
            else:
                self._items.append(item)
                self._bytes += item.size
                while len(self._items) > self.queue_size or self._bytes > self.queue_bytes:
                    # the oldest of the lowest priority (min keeps the first of equals)
                    index, victim = min(enumerate(self._items), key=lambda pair: KIND_PRIORITY[pair[1].kind])
                    del self._items[index]
                    self._bytes -= victim.size
                    evicted.append(victim)
            accepted = all(victim is not item for victim in evicted)
            if accepted:
                self._cond.notify()
        for victim in evicted:
            self._note_drop(victim)
            self._finish(victim, delivered=False)
        return accepted

    def _note_drop(self, item: Item) -> None:
        with self._counts.lock:
            self._counts.errors[self.name] += 1
            self._counts.dropped[(self.name, item.kind)] += 1
            self._dropped[item.kind] += 1
            now = self.clock.monotonic()
            if now - self._full_logged_at < FULL_LOG_EVERY_SECONDS:
                return  # one line a minute, not one per drop
            self._full_logged_at, dropped = now, self._dropped
            self._dropped = Counter()
        self._log.warning(
            "notification queue full; dropping notifications",
            extra={
                "channel": self.name,
                "dropped": sum(dropped.values()),
                "kinds": ",".join(f"{k}={n}" for k, n in sorted(dropped.items())),
                "queue_size": self.queue_size,
                "queue_bytes": self.queue_bytes,
            },
        )

    def pending(self) -> int:
        with self._cond:
            return len(self._items) + (self._inflight is not None)

    def pending_bytes(self) -> int:
        with self._cond:
            return self._bytes + (self._inflight.size if self._inflight is not None else 0)

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

    def _step(self, item: Item, name: str) -> None:
        outbox = self._outbox()
        if item.ident is not None and outbox is not None and outbox.hook is not None:
            outbox.hook(name)

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
                if not self._gate():
                    return now + GATE_RETRY_SECONDS
                item = self._items.popleft()
                self._bytes -= item.size
                outbox = self._outbox()
                if item.ident is not None and outbox is not None and item.ident not in outbox:
                    continue  # given up while queued (another HA leader took the message over)
                self._inflight = item
                self._sent_at.append(now)
            self._step(item, "before_send")
            update = getattr(self.channel, "update", None) if item.receipt is not None else None
            try:
                outcome = update(item.payload, item.receipt) if update is not None else self.channel.send(item.payload)
            except Exception as exc:  # a channel must never kill the worker
                outcome = Outcome(False, retry=True, detail=type(exc).__name__)
            self._step(item, "after_send")
            if outcome.ok and outcome.receipt is not None and item.ident is not None:
                item.receipt = dict(outcome.receipt)
                outbox = self._outbox()
                if outbox is not None:
                    outbox.posted(item.ident, item.receipt)
                self._step(item, "after_receipt")
            finished = self._settle(item, outcome)
            if finished is not None:
                self._finish(item, finished)
                self._step(item, "after_done")

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
            self._bytes += item.size
        self._log.warning(
            "notification delivery failed; retrying",
            extra={"channel": self.name, "error": outcome.detail, "attempt": item.attempts, "retry_in_seconds": delay},
        )
        return None

    def _finish(self, item: Item, delivered: bool) -> None:
        if item.ident is None:
            return
        outbox = self._outbox()
        if outbox is not None:
            outbox.done(item.ident, delivered)
        done = self._done()
        if done is not None:
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
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        outbox: Outbox | None = None,
    ):
        self.channels = dict(channels)
        self.clock = clock
        self.on_done = on_done
        self.outbox = outbox  # where persisted items are marked done; the owner may set it later
        self.gate: Callable[[], bool] = lambda: True  # HA: sends only while this replica leads
        self._counts = _Counts()
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self.queues = {
            name: ChannelQueue(
                name,
                channel,
                clock,
                self._counts,
                lambda: self.on_done,
                max_per_minute,
                max_retries,
                queue_size,
                queue_bytes,
                lambda: self.outbox,
                lambda: self.gate(),
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

    @property
    def dropped(self) -> Counter[tuple[str, str]]:
        """Items a full queue gave up, by (channel, kind)."""
        with self._counts.lock:
            return Counter(self._counts.dropped)

    # ------------------------------------------------------------------ producer side
    def submit(
        self,
        channel: str,
        payload: Any,
        ident: str | None = None,
        droppable: bool = True,
        kind: str = "",
        receipt: Mapping[str, str] | None = None,
    ) -> bool:
        queue = self.queues.get(channel)
        if queue is None:
            return False
        return queue.submit(Item(payload, ident, droppable, kind=kind, receipt=receipt))

    def pending(self, channel: str | None = None) -> int:
        return sum(q.pending() for name, q in self.queues.items() if channel in (None, name))

    def pending_bytes(self, channel: str | None = None) -> int:
        return sum(q.pending_bytes() for name, q in self.queues.items() if channel in (None, name))

    # ------------------------------------------------------------------ worker side
    def pump(self) -> dict[str, float | None]:
        """One non-blocking pass over every channel: when each may send next (None: idle)."""
        return {name: queue.pump() for name, queue in self.queues.items()}

    def run_pending(self) -> None:
        """Deliver everything queued, in this thread, waiting through `wait` (tests); returns at
        once while the HA gate holds every send."""
        while self.gate():
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


# ---------------------------------------------------------------------- the outbox
COMPACT_RATIO = 4  # the journal is rewritten once it is this many times the size of what is live
COMPACT_MIN_BYTES = 1 << 20  # ... and larger than this


class Outbox:
    """The messages planned and not yet delivered, kept in a `Journal` (append-only).

    Records, one a line: `add` (the item, with a sequence number `seq`), `posted` (the receipt
    of a delivery that can be updated later) and `done` (the item left its queue for good). An
    item is live from its `add` to its `done`. Each append is fsynced before it returns: `add`
    before the item is queued (write-ahead), `done` right after the delivery, instead of the
    whole state file being rewritten per message. The journal is compacted (rewritten with the
    live items only) when it grows past COMPACT_RATIO times their size.

    `keep_upto`: the last `seq` the owner's saved state accounts for. The owner appends first,
    then saves the state that planned the items (with `seq`); items above `keep_upto` were
    appended by a run that crashed before saving that state, which plans them again, so they
    are discarded here rather than sent twice. None keeps everything.

    `hook(step)`, when set, is called at each step of an item's way (crash tests): "added"
    (after the add is durable), the delivery's "before_send", "after_send", "after_receipt",
    "after_done", and the journal's own steps ("append", "appended", "rewrite_written",
    "rewrite_replaced"). Thread-safe.
    """

    def __init__(
        self,
        journal: Journal,
        keep_upto: int | None = None,
        compact_ratio: float = COMPACT_RATIO,
        compact_min_bytes: int = COMPACT_MIN_BYTES,
    ):
        self.journal = journal
        self.compact_ratio = compact_ratio
        self.compact_min_bytes = compact_min_bytes
        self._lock = threading.Lock()
        self._live: dict[str, dict[str, Any]] = {}
        self._live_bytes = 0
        self.seq = 0
        self.discarded = 0  # items above keep_upto, dropped at open
        self.on_done: Callable[[], None] | None = None  # after an item left (HA: publish the outbox)
        self._replay(journal.records, keep_upto)
        journal.records = []
        if self.discarded or journal.size > self._live_bytes:
            self._compact()  # one rewrite per start: drops what is done, discarded or torn

    @property
    def hook(self) -> Hook | None:
        return self.journal.hook

    @hook.setter
    def hook(self, hook: Hook | None) -> None:
        self.journal.hook = hook

    def _replay(self, records: list[Any], keep_upto: int | None) -> None:
        top = 0
        for record in records:
            if not isinstance(record, dict):
                continue
            op, ident = record.get("op"), record.get("id")
            if op == "add":
                item = _journal_item(record)
                if item is None:
                    continue
                top = max(top, item["seq"])
                if keep_upto is not None and item["seq"] > keep_upto:
                    self.discarded += 1
                    continue
                self._live[item["id"]] = item
            elif op == "posted" and ident in self._live and _is_receipt(record.get("receipt")):
                self._live[ident]["receipt"] = dict(record["receipt"])
            elif op == "done":
                self._live.pop(ident, None)  # type: ignore[arg-type]
        self.seq = max(top, keep_upto or 0)
        self._live_bytes = sum(_item_bytes(item) for item in self._live.values())
        if self.discarded:
            log.info(
                "outbox items planned by a run that stopped before saving its state; planned again instead",
                extra={"count": self.discarded},
            )

    def items(self) -> list[dict[str, Any]]:
        """The live items, oldest first (copies)."""
        with self._lock:
            return [dict(item) for item in self._live.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._live)

    def __contains__(self, ident: object) -> bool:
        with self._lock:
            return ident in self._live

    def add(self, items: list[dict[str, Any]]) -> int:
        """Journal new items (each: id, channel, kind, payload) durably; the last seq given."""
        with self._lock:
            records = []
            for item in items:
                self.seq += 1
                entry = {**item, "seq": self.seq}
                self._live[entry["id"]] = entry
                self._live_bytes += _item_bytes(entry)
                records.append({"op": "add", **entry})
            self._write(records)
            seq = self.seq
        if items and self.hook is not None:
            self.hook("added")
        return seq

    def posted(self, ident: str, receipt: Mapping[str, str]) -> None:
        """The channel accepted the item and can update it later: a re-send becomes an update."""
        with self._lock:
            item = self._live.get(ident)
            if item is None:
                return
            item["receipt"] = dict(receipt)
            record = {"op": "posted", "id": ident, "receipt": dict(receipt)}
            self._live_bytes += line_size(record)
            self._write([record])

    def done(self, ident: str, delivered: bool) -> None:
        with self._lock:
            item = self._live.pop(ident, None)
            if item is None:
                return
            self._live_bytes -= _item_bytes(item)
            self._write([{"op": "done", "id": ident, "delivered": delivered}])
            if self.journal.size > max(self.compact_ratio * self._live_bytes, self.compact_min_bytes):
                self._compact()
        if self.on_done is not None:
            self.on_done()

    def _write(self, records: list[dict[str, Any]]) -> None:
        try:
            self.journal.append(records)
        except OSError as exc:  # the message still goes out; only its durability is lost
            log.error("cannot write the outbox journal", extra={"path": str(self.journal.path), "error": exc.strerror})

    def _compact(self) -> None:
        records: list[dict[str, Any]] = []
        for item in self._live.values():
            receipt = item.get("receipt")
            records.append({"op": "add", **{k: v for k, v in item.items() if k != "receipt"}})
            if receipt is not None:
                records.append({"op": "posted", "id": item["id"], "receipt": receipt})
        try:
            self.journal.rewrite(records)
        except OSError as exc:
            log.error(
                "cannot compact the outbox journal", extra={"path": str(self.journal.path), "error": exc.strerror}
            )


def _is_receipt(raw: Any) -> bool:
    return isinstance(raw, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items())


def _journal_item(record: Mapping[str, Any]) -> dict[str, Any] | None:
    ident, seq, channel, kind = record.get("id"), record.get("seq"), record.get("channel"), record.get("kind")
    if not (isinstance(ident, str) and ident and isinstance(seq, int) and isinstance(channel, str)):
        return None
    if kind not in KIND_PRIORITY or "payload" not in record:
        return None
    return {"id": ident, "channel": channel, "kind": kind, "payload": record["payload"], "seq": seq}


def _item_bytes(item: Mapping[str, Any]) -> int:
    size = line_size({"op": "add", **{k: v for k, v in item.items() if k != "receipt"}})
    if item.get("receipt") is not None:
        size += line_size({"op": "posted", "id": item["id"], "receipt": item["receipt"]})
    return size
