"""The shared state: the leader writes its state file sections to a one-partition topic, the
other replicas read it, and a new leader reads it to its end before it acts (docs/ha.md).

Each record is one section (key: its name; value: JSON `{"v": 1, "member", "at", "section"}`).
A reader keeps the newest record per key, so it works on a compacted topic and on a broker
that never compacts (tansu keeps every record: the reader goes through all of them). Records
above `max_state_bytes`, or that do not parse, are skipped with a warning. `publish` waits for
the broker's acknowledgement (bounded by the endpoint timeout), so what the leader announces
is on the broker before the announcement is queued.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from cdc_watch.config import HighAvailability
from cdc_watch.ha.lease import ensure_topic
from cdc_watch.sources.kafka.client import client_settings, describe

log = logging.getLogger(__name__)

FORMAT = 1
BATCH = 500  # records read per consume call


class SharedState:
    """Publisher (leader) and reader (everyone) of the state topic. `may_publish` is the lease's
    `is_leader`: a replica that lost the lease writes nothing more."""

    def __init__(self, settings: HighAvailability, member: str, may_publish: Callable[[], bool]):
        self.settings = settings
        self.member = member
        self.may_publish = may_publish
        self.latest: dict[str, Any] = {}  # section -> value, newest read
        self.published = 0
        self.publish_errors = 0
        self.skipped = 0  # records too large or unreadable
        self._publish_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._partition = TopicPartition(settings.state_topic, 0)
        self._producer: Any = None
        self._reader: Any = None

    def start(self) -> None:
        s = self.settings
        ensure_topic(s, s.state_topic, {"cleanup.policy": "compact"})
        self._producer = Producer(
            client_settings(
                s,
                **{
                    "acks": "all",
                    "enable.idempotence": False,
                    "message.max.bytes": s.max_state_bytes + 4096,
                    "message.timeout.ms": max(1000, int(s.timeout * 1000)),
                    "linger.ms": 0,
                },
            )
        )
        self._reader = Consumer(
            client_settings(
                s,
                **{
                    "group.id": f"{s.group_id}-state-{self.member}",  # never joined: partitions are assigned
                    "enable.auto.commit": False,
                    "enable.partition.eof": False,
                    "fetch.max.bytes": max(s.max_state_bytes * 2, 1 << 20),
                    "max.partition.fetch.bytes": max(s.max_state_bytes * 2, 1 << 20),
                },
            )
        )
        self._reader.assign([TopicPartition(s.state_topic, 0, OFFSET_BEGINNING)])

    def close(self) -> None:
        for client in (self._reader,):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
        if self._producer is not None:
            self._producer.flush(0.5)

    # ------------------------------------------------------------------ write
    def publish(self, name: str, value: Any) -> bool:
        """Write one section and wait for the broker's acknowledgement; False if not sent."""
        if self._producer is None or not self.may_publish():
            return False
        body = json.dumps(
            {"v": FORMAT, "member": self.member, "at": time.time(), "section": value}, separators=(",", ":")
        ).encode("utf-8")
        if len(body) > self.settings.max_state_bytes:
            self.publish_errors += 1
            log.error("shared state section too large; not published", extra={"section": name, "bytes": len(body)})
            return False
        outcome: list[Any] = []
        with self._publish_lock:
            try:
                self._producer.produce(
                    self.settings.state_topic,
                    value=body,
                    key=name.encode(),
                    partition=0,
                    on_delivery=lambda err, _msg: outcome.append(err),
                )
                self._producer.flush(self.settings.timeout)
            except (KafkaException, BufferError) as exc:
                outcome.append(exc)
        if outcome and outcome[0] is None:
            self.published += 1
            self.latest[name] = value
            return True
        self.publish_errors += 1
        log.error(
            "cannot publish the shared state",
            extra={
                "section": name,
                "broker": describe(self.settings),
                "error": str(outcome[0]) if outcome else "timeout",
            },
        )
        return False

    def serve(self) -> None:
        """Hand the producer's queued events (librdkafka log lines, delivery reports) to Python.
        A follower never produces, so without this they would pile up while the broker is down."""
        if self._producer is not None:
            with contextlib.suppress(KafkaException):
                self._producer.poll(0)

    # ------------------------------------------------------------------ read
    def read_available(self, timeout: float = 0.0) -> int:
        """Read what the broker has now (one batch); records read."""
        if self._reader is None:
            return 0
        with self._read_lock:
            try:
                messages = self._reader.consume(BATCH, timeout)
            except KafkaException:
                return 0
            for message in messages:
                self._take(message)
            return len(messages)

    def catch_up(self, timeout: float | None = None) -> bool:
        """Read to the end of the topic as it is now; False if that took longer than `timeout`."""
        if self._reader is None:
            return False
        budget = self.settings.catch_up_timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        try:
            _low, high = self._reader.get_watermark_offsets(self._partition, timeout=budget, cached=False)
        except KafkaException:
            return False
        while time.monotonic() < deadline:
            with self._read_lock:
                position = self._reader.position([self._partition])[0].offset
            if high <= 0 or position >= high:
                return True
            self.read_available(min(0.5, max(0.0, deadline - time.monotonic())))
        log.warning("the shared state was not read to its end in time", extra={"seconds": budget})
        return False

    def _take(self, message: Any) -> None:
        if message.error() is not None:
            return
        value, key = message.value(), message.key()
        try:
            if value is None or key is None or len(value) > self.settings.max_state_bytes:
                raise ValueError("size")
            record = json.loads(value)
            if not isinstance(record, dict) or record.get("v") != FORMAT or "section" not in record:
                raise ValueError("layout")
        except ValueError:
            self.skipped += 1
            log.warning("unreadable shared state record; skipped", extra={"offset": message.offset()})
            return
        self.latest[key.decode("utf-8", "replace")] = record["section"]
