"""Typed values of the Kafka source: what the broker showed of the schema history topics the
connectors of one Connect cluster name, and the verdict of each safety check on them.

Frozen, slotted dataclasses and StrEnums; `KafkaClusterState` is what a Kafka source's poll
puts in the snapshot (`kafka:<connect cluster>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from cdc_watch.core.snapshot import Snapshot


class Check(StrEnum):
    """The schema history topic checks; the `check` label of cdc_schema_history_topic_ok."""

    EXISTS = "exists"
    PARTITIONS = "partitions"  # exactly one
    RETENTION = "retention"  # unlimited by time and by size
    CLEANUP_POLICY = "cleanup_policy"  # delete only: never compacted


CHECKS: tuple[Check, ...] = tuple(Check)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    ok: bool | None  # None: the broker did not say enough to judge (no sample is exported)
    found: str  # what was seen, for the alert's evidence: "retention.ms=604800000 (topic)"


@dataclass(frozen=True, slots=True)
class HistoryTopic:
    """One connector's schema history topic as the broker showed it."""

    connector: str
    topic: str
    checks: tuple[CheckResult, ...]  # EXISTS always; the others only when the topic exists
    partitions: int | None = None  # None when the topic does not exist
    configs_read_at: float | None = None  # wall clock of the topic config read the checks used

    def result(self, check: Check) -> CheckResult | None:
        for item in self.checks:
            if item.check is check:
                return item
        return None

    @property
    def ok(self) -> bool | None:
        """False if any check failed, None if none failed and some could not be judged."""
        verdicts = [c.ok for c in self.checks]
        if False in verdicts:
            return False
        return None if None in verdicts else True


@dataclass(frozen=True, slots=True)
class KafkaClusterState:
    """One successful poll of the Kafka cluster a Connect cluster writes to."""

    cluster: str  # the Connect cluster's name
    kafka_cluster_id: str
    brokers: int
    topics: int  # topics the broker listed
    history: Mapping[str, HistoryTopic] = field(default_factory=lambda: MappingProxyType({}))  # by connector
    # Connectors whose topic configs were not read in this poll (the per-poll cap, or a failed
    # config read): their retention and cleanup checks are those of an earlier read, or unknown.
    stale: frozenset[str] = frozenset()
    broker_defaults: bool = False  # whether the broker reported its log.retention.* / log.cleanup.policy


def kafka_state(snapshot: Snapshot, cluster: str) -> KafkaClusterState | None:
    """The Kafka state of a Connect cluster from its last poll, if that poll succeeded."""
    state = snapshot.data(f"kafka:{cluster}")
    return state if isinstance(state, KafkaClusterState) else None
