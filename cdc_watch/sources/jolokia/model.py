"""Typed values produced by the Jolokia source: one endpoint's reading and the joined cluster view.

`JolokiaClusterState` is what `snapshot.data("jolokia:<cluster>")` returns. Its `streaming`
mapping (Connect connector name -> `StreamingMetrics`) is the contract the MySQL binlog source
codes against. Every numeric field is `None` when there was no sample (MBean absent, attribute
absent, NaN, +/-Infinity, JSON null, Debezium's -1 "never" marker).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cdc_watch.core.model import SourceError

Values = Mapping[str, float | None]
"""Numeric attributes of one MBean, keyed by JMX attribute name; None = no sample."""


def _empty() -> Mapping[Any, Any]:
    return MappingProxyType({})


class Group(StrEnum):
    """The MBean groups one bulk request reads; also the `group` of a failed read."""

    VERSION = "version"
    APP_INFO = "app_info"
    WORKER = "worker"
    WORKER_CONNECTOR = "worker_connector"
    REBALANCE = "rebalance"
    CONNECTOR = "connector"
    CONNECTOR_TASK = "connector_task"
    SOURCE_TASK = "source_task"
    SINK_TASK = "sink_task"
    TASK_ERROR = "task_error"
    CLIENT = "client"
    DEBEZIUM_STREAMING = "debezium_streaming"
    DEBEZIUM_SNAPSHOT = "debezium_snapshot"
    DEBEZIUM_SCHEMA_HISTORY = "debezium_schema_history"


class HistoryStatus(StrEnum):
    STOPPED = "STOPPED"
    RECOVERING = "RECOVERING"
    RUNNING = "RUNNING"
    UNKNOWN = "UNKNOWN"


HISTORY_STATES: tuple[str, ...] = (HistoryStatus.STOPPED, HistoryStatus.RECOVERING, HistoryStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class ObjectName:
    """A JMX ObjectName: domain plus key properties (values unquoted), order-insensitive."""

    domain: str
    properties: tuple[tuple[str, str], ...]  # sorted by key

    def get(self, key: str, default: str | None = None) -> str | None:
        for k, v in self.properties:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True)
class DebeziumMBean:
    """One Debezium connector-metrics MBean as read from one endpoint (not yet joined)."""

    domain: str  # debezium.mysql | debezium.mariadb
    context: str  # streaming | binlog (legacy 1.x) | snapshot | schema-history
    server: str  # topic.prefix (2.x+) or database.server.name (1.x)
    attributes: Mapping[str, Any]  # raw JSON values of the requested attributes


@dataclass(frozen=True, slots=True)
class EndpointReading:
    """What one Jolokia endpoint answered in one cycle (or why it did not)."""

    endpoint: str  # bounded label: the configured URL (credentials stripped) or the worker id
    worker_id: str | None = None  # from the URL template, else from kafka.connect:type=app-info
    error: SourceError | None = None
    agent_version: str | None = None
    protocol: str | None = None
    worker: Values | None = None
    worker_connectors: Mapping[str, Values] = field(default_factory=_empty)
    rebalance: Values | None = None
    client: Values | None = None  # connect-metrics of the worker's group member client
    connectors: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)  # connector-metrics (strings kept raw)
    tasks: Mapping[tuple[str, int], Mapping[Group, Values]] = field(default_factory=_empty)
    debezium: tuple[DebeziumMBean, ...] = ()
    failed_reads: tuple[Group, ...] = ()  # elements of the bulk reply with an error status
    skipped_values: int = 0  # attribute values no float can hold, read as "no sample"

    @property
    def up(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class StreamingMetrics:
    """Debezium MySQL/MariaDB streaming MBean of one connector (`context=streaming`)."""

    binlog_filename: str | None = None
    binlog_position: int | None = None
    gtid_set: str | None = None
    connected: bool | None = None
    ms_behind_source: float | None = None  # None before the first event (Debezium says -1)
    ms_since_last_event: float | None = None  # None if no event yet
    gtid_mode_enabled: bool | None = None
    queue_remaining_capacity: float | None = None
    queue_total_capacity: float | None = None
    queue_size_bytes: float | None = None
    queue_max_size_bytes: float | None = None
    events_seen: float | None = None
    create_events: float | None = None
    update_events: float | None = None
    delete_events: float | None = None
    committed_transactions: float | None = None
    rolled_back_transactions: float | None = None
    disconnects: float | None = None
    erroneous_events: float | None = None
    filtered_events: float | None = None
    skipped_events: float | None = None
    endpoint: str = ""  # which endpoint it was read from

    @property
    def binlog_file_number(self) -> int | None:
        """The numeric suffix of the binlog file name (`mysql-bin.000042` -> 42)."""
        if not self.binlog_filename:
            return None
        _, _, suffix = self.binlog_filename.rpartition(".")
        return int(suffix) if suffix.isdigit() else None


@dataclass(frozen=True, slots=True)
class SnapshotMetrics:
    running: bool | None = None
    completed: bool | None = None
    aborted: bool | None = None
    paused: bool | None = None
    total_tables: float | None = None
    remaining_tables: float | None = None
    duration_seconds: float | None = None
    rows_scanned: Mapping[str, float] = field(default_factory=_empty)  # table -> rows


@dataclass(frozen=True, slots=True)
class SchemaHistoryMetrics:
    status: HistoryStatus = HistoryStatus.UNKNOWN
    changes_applied: float | None = None
    changes_recovered: float | None = None
    ms_since_last_applied: float | None = None


@dataclass(frozen=True, slots=True)
class JolokiaClusterState:
    """One Jolokia poll of every endpoint of a Connect cluster, joined to Connect's connectors."""

    cluster: str
    endpoints: Mapping[str, EndpointReading]
    tasks: Mapping[tuple[str, int], Mapping[Group, Values]] = field(default_factory=_empty)  # merged over endpoints
    streaming: Mapping[str, StreamingMetrics] = field(default_factory=_empty)  # keyed by Connect connector name
    snapshots: Mapping[str, SnapshotMetrics] = field(default_factory=_empty)
    schema_history: Mapping[str, SchemaHistoryMetrics] = field(default_factory=_empty)
    # connector -> task id -> streaming MBean present (None = cannot tell), RUNNING tasks only
    streaming_present: Mapping[str, Mapping[int, bool | None]] = field(default_factory=_empty)
    prefix_conflicts: Mapping[str, str] = field(default_factory=_empty)  # connector -> topic prefix shared in one JVM
    unjoined: tuple[str, ...] = ()  # server names of Debezium MBeans no connector claims
    joined: bool = False  # False until a Connect poll has succeeded
    problems: tuple[str, ...] = field(default=())

    def streaming_mbean_present(self, connector: str) -> bool | None:
        """False if a RUNNING task of the connector lacks its streaming MBean, True if all have it,
        None when unknown (no RUNNING task, no Connect data, or the task's worker is not matched to
        an endpoint that answered)."""
        tasks = self.streaming_present.get(connector)
        if not tasks:
            return None
        values = list(tasks.values())
        if any(v is False for v in values):
            return False
        if all(v is True for v in values):
            return True
        return None
