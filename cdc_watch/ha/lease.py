"""Leadership: the `Lease` interface every backend implements, and its Kafka backend.

`KafkaLease` joins the replicas' consumer group on a one-partition lease topic; the member
assigned partition 0 holds the lease. Group membership, rebalancing and session timeouts are
librdkafka's (cooperative-sticky); this module only reads the outcome. The callbacks that tell
it (on_assign, on_revoke, on_lost) run inside `Consumer.poll`, so one background thread polls.

Fail safe: `is_leader()` is true only while the replica holds the partition, its last broker
round trip (a watermark query on the lease partition, each turn of the thread, about every 0.5 s) is younger than
`session_timeout - step_down_margin`, and the takeover step (`on_acquire`, reading the shared
state) has finished. It is computed at each call from the monotonic clock, so a replica cut
off from the broker stops acting by itself before the broker's session timeout can give the
partition to another replica, even if this thread is stuck in a call.

A Kubernetes Lease backend would implement the same `Lease` protocol: hold the lease while its
renewals succeed, with the same "last confirmed renewal younger than the lease duration minus a
margin" rule.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from cdc_watch.config import HighAvailability
from cdc_watch.sources.kafka.client import client_settings, describe

log = logging.getLogger(__name__)

LEASE_PARTITION = 0


class Role(StrEnum):
    """Why a replica acts or not; one-hot in cdc_ha_role."""

    LEADER = "leader"
    FOLLOWER = "follower"  # in the group, another replica holds the lease: ready to take over
    JOINING = "joining"  # reaches the broker, not (yet) given a share by the group
    NO_BROKER = "no_broker"  # no confirmed broker round trip recently: never acts
    STARTING = "starting"  # holds the lease, still reading the shared state


class Lease(Protocol):
    """What the daemon needs of a leader election backend."""

    def start(self) -> None: ...

    def stop(self, budget: float) -> None: ...

    def is_leader(self) -> bool:
        """Whether this replica may notify and remediate now (cheap; called before each act)."""
        ...

    def role(self) -> Role: ...

    @property
    def changes(self) -> int:
        """How many times this replica became or stopped being leader."""
        ...

    @property
    def joined(self) -> bool:
        """Whether this replica is a member the election could pick now."""
        ...

    @property
    def last_contact(self) -> float | None:
        """Wall-clock time of the last confirmed broker (or API server) round trip."""
        ...


class KafkaLease:
    """The Kafka backend of `Lease`. `on_acquire()` runs in the lease thread when the lease is
    gained, before `is_leader()` turns true; it returns False to try again at the next turn."""

    def __init__(
        self,
        settings: HighAvailability,
        on_acquire: Callable[[], bool] | None = None,
        member: str | None = None,
        on_turn: Callable[[], None] | None = None,
    ):
        self.settings = settings
        self.member = member or uuid.uuid4().hex[:12]
        self.on_acquire = on_acquire or (lambda: True)
        self.on_turn = on_turn or (lambda: None)  # each turn of a non-leader (keeping up with the state)
        self._lock = threading.Lock()
        self._owned: set[int] = set()
        self._joined = False  # the group gave this member an assignment (possibly empty)
        self._acting = False  # the takeover step finished while the partition was held
        self._contact_mono: float | None = None
        self._contact_wall: float | None = None
        self._changes = 0
        self._was_leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._consumer: Any = None
        self._last_error = ""

    # ------------------------------------------------------------------ state
    def _fresh(self, now: float) -> bool:
        limit = self.settings.session_timeout - self.settings.step_down_margin
        return self._contact_mono is not None and now - self._contact_mono < limit

    def is_leader(self) -> bool:
        with self._lock:
            return self._acting and LEASE_PARTITION in self._owned and self._fresh(time.monotonic())

    def role(self) -> Role:
        with self._lock:
            if not self._fresh(time.monotonic()):
                return Role.NO_BROKER
            if LEASE_PARTITION not in self._owned:
                return Role.FOLLOWER if self._joined else Role.JOINING
            return Role.LEADER if self._acting else Role.STARTING

    @property
    def changes(self) -> int:
        return self._changes

    @property
    def joined(self) -> bool:
        """Whether the group has given this member its share (a standby ready to take over)."""
        return self._joined

    @property
    def last_contact(self) -> float | None:
        return self._contact_wall

    # ------------------------------------------------------------------ callbacks (inside poll)
    def _on_assign(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._owned.update(p.partition for p in partitions)
            self._joined = True

    def _on_revoke(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._owned.difference_update(p.partition for p in partitions)
            if LEASE_PARTITION not in self._owned:
                self._acting = False

    def _on_lost(self, _consumer: Any, partitions: list[TopicPartition]) -> None:
        with self._lock:
            self._owned.clear()
            self._acting = False
            self._joined = False

    def _on_error(self, error: KafkaError) -> None:
        code = error.code()
        if code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._TIMED_OUT):
            self._last_error = error.name()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ha lease", daemon=True)
        self._thread.start()

    def stop(self, budget: float) -> None:
        """Leave the group (LeaveGroup, so another replica takes over at once) within `budget`."""
        with self._lock:
            self._acting = False
        self._stop.set()
        if self._thread is not None:
            self._thread.join(budget)

    def _consumer_settings(self) -> dict[str, Any]:
        s = self.settings
        return client_settings(
            s,
            **{
                "group.id": s.group_id,
                "client.id": f"cdc-watch-ha-{self.member}",
                "session.timeout.ms": int(s.session_timeout * 1000),
                "heartbeat.interval.ms": int(s.heartbeat_interval * 1000),
                "max.poll.interval.ms": max(60_000, int(s.session_timeout * 3000)),
                "partition.assignment.strategy": "cooperative-sticky",
                "enable.auto.commit": False,
                "enable.partition.eof": False,
                "error_cb": self._on_error,
            },
        )

    def _run(self) -> None:
        s = self.settings
        ensure_topic(s, s.lease_topic)
        consumer = self._consumer = Consumer(self._consumer_settings())
        consumer.subscribe([s.lease_topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost)
        probe = TopicPartition(s.lease_topic, LEASE_PARTITION)
        step = min(0.5, s.heartbeat_interval)
        log.info(
            "joining the leader election", extra={"broker": describe(s), "group": s.group_id, "member": self.member}
        )
        try:
            while not self._stop.is_set():
                consumer.poll(step)  # runs the rebalance callbacks; the lease topic holds no records
                try:
                    consumer.get_watermark_offsets(
                        probe, timeout=min(s.timeout, s.heartbeat_interval * 2), cached=False
                    )
                    with self._lock:
                        self._contact_mono, self._contact_wall = time.monotonic(), time.time()
                except KafkaException as exc:
                    self._last_error = exc.args[0].name()
                with self._lock:
                    if not self._fresh(time.monotonic()):
                        self._acting = False  # regaining contact means reading the shared state again
                self._take_over_if_held()
                if not self.is_leader():
                    self.on_turn()
                self._note_change()
        except Exception as exc:  # never silently: the replica stays a follower
            log.error("leader election stopped", extra={"error": type(exc).__name__})
            with self._lock:
                self._acting = False
                self._owned.clear()
        finally:
            with self._lock:
                self._acting = False
            self._note_change()
            try:
                consumer.close()  # LeaveGroup
            except Exception as exc:
                log.info("leaving the group failed", extra={"error": type(exc).__name__})

    def _take_over_if_held(self) -> None:
        with self._lock:
            held = LEASE_PARTITION in self._owned and self._fresh(time.monotonic()) and not self._acting
        if not held or self._stop.is_set():
            return
        log.info("lease acquired; reading the shared state before acting", extra={"member": self.member})
        ok = False
        try:
            ok = self.on_acquire()
        except Exception as exc:
            log.error("takeover step failed", extra={"error": type(exc).__name__})
        with self._lock:
            if ok and LEASE_PARTITION in self._owned and not self._stop.is_set():
                self._acting = True

    def _note_change(self) -> None:
        leader = self.is_leader()
        if leader != self._was_leader:
            self._was_leader = leader
            self._changes += 1
            log.warning(
                "now the leader: notifying and remediating" if leader else "no longer the leader: stopped acting",
                extra={"member": self.member, "role": str(self.role()), "error": self._last_error or None},
            )


def ensure_topic(settings: HighAvailability, topic: str, config: dict[str, str] | None = None) -> None:
    """Create a one-partition topic where the broker does not have it yet (never raises)."""
    admin = AdminClient(client_settings(settings))
    try:
        futures = admin.create_topics([NewTopic(topic, 1, config=config or {})], request_timeout=settings.timeout)
        futures[topic].result(timeout=settings.timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            log.info(
                "cannot create topic", extra={"broker": describe(settings), "topic": topic, "error": exc.args[0].name()}
            )
    except Exception as exc:  # a timeout: the caller goes on, the topic may exist already
        log.info(
            "cannot create topic", extra={"broker": describe(settings), "topic": topic, "error": type(exc).__name__}
        )
