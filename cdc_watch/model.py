"""Immutable value types shared by sources, the snapshot, the exporter and the rules.

Everything here is a frozen, slotted dataclass or a StrEnum: sources build these, nothing
mutates them afterwards, so any thread may read a snapshot without locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class ErrorReason(StrEnum):
    """Closed set of reasons a poll can fail; used as the `reason` label."""

    TIMEOUT = "timeout"
    CONNECT = "connect"
    TLS = "tls"
    AUTH = "auth"
    HTTP_STATUS = "http_status"
    CONFLICT = "conflict"  # 409 or "rebalance is expected": retry later
    DECODE = "decode"
    QUERY = "query"
    INTERNAL = "internal"


class SourceFailure(Exception):
    """Raised by a source's poll; the poller turns it into a SourceError in the snapshot.

    The message must already be safe to show: no secrets, no response bodies of unknown
    content beyond a short excerpt.
    """

    def __init__(self, reason: ErrorReason, message: str, may_have_reached: bool = True):
        super().__init__(message)
        self.reason = reason
        self.message = message
        # False only when the request certainly never reached the server (connection refused,
        # connect timeout): then a non-idempotent request may be sent to another worker.
        self.may_have_reached = may_have_reached


@dataclass(frozen=True, slots=True)
class SourceError:
    reason: ErrorReason
    message: str


class State(StrEnum):
    """Kafka Connect connector and task states (`AbstractStatus.State`, minus DESTROYED)."""

    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    RESTARTING = "RESTARTING"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"  # a state this version of cdc_watch does not know, or no status yet

    @classmethod
    def parse(cls, value: object) -> State:
        if isinstance(value, str):
            return _STATE_BY_NAME.get(value) or _STATE_BY_NAME.get(value.upper(), cls.UNKNOWN)
        return cls.UNKNOWN


_STATE_BY_NAME: dict[str, State] = {s.value: s for s in State}

# The states exported one-hot; UNKNOWN is shown as all zeros.
KNOWN_STATES: tuple[State, ...] = (
    State.UNASSIGNED,
    State.RUNNING,
    State.PAUSED,
    State.STOPPED,
    State.RESTARTING,
    State.FAILED,
)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    id: int
    state: State
    worker_id: str
    trace: str | None = None  # scrubbed of connector secrets


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """The only parts of a connector config cdc_watch keeps; everything else is dropped."""

    connector_class: str = ""
    topic_prefix: str = ""  # topic.prefix (2.x+) or database.server.name (1.x)
    database_hostname: str = ""
    database_port: int | None = None
    database_user: str = ""
    tasks_max: int | None = None

    @property
    def is_debezium_mysql(self) -> bool:
        return self.connector_class in DEBEZIUM_BINLOG_CLASSES


DEBEZIUM_BINLOG_CLASSES = frozenset(
    {
        "io.debezium.connector.mysql.MySqlConnector",
        "io.debezium.connector.mariadb.MariaDbConnector",
    }
)


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    name: str
    type: str  # source | sink | unknown
    state: State
    worker_id: str
    tasks: tuple[TaskStatus, ...]
    settings: ConnectorSettings | None  # None when the reply carried no `info`
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectClusterState:
    """One successful poll of a Kafka Connect cluster's REST API."""

    cluster: str
    worker_url: str  # the configured URL that answered
    version: str
    commit: str
    kafka_cluster_id: str
    connectors: Mapping[str, ConnectorStatus]
    excluded: int = 0  # connectors hidden by include/exclude patterns
    problems: tuple[str, ...] = ()  # oddities in the reply worth a log line, never secrets
    # connector -> consecutive polls whose reply left out its entry, status or info (its last
    # known status/info is shown meanwhile, for a few polls)
    incomplete: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def workers(self) -> frozenset[str]:
        seen = set()
        for connector in self.connectors.values():
            if connector.worker_id:
                seen.add(connector.worker_id)
            for task in connector.tasks:
                if task.worker_id:
                    seen.add(task.worker_id)
        return frozenset(seen)


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one source produced: data on success, a typed error otherwise."""

    source: str  # unique id, e.g. "connect:prod"
    kind: str  # connect | jolokia | mysql | ...
    started_at: float  # wall clock, seconds since the epoch
    duration: float  # seconds
    data: Any = None
    error: SourceError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """The latest result of one source plus its cumulative counters."""

    source: str
    kind: str
    last: PollResult | None = None
    last_success: PollResult | None = None
    polls_total: int = 0
    errors_total: Mapping[ErrorReason, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def up(self) -> bool:
        return self.last is not None and self.last.ok

    def with_result(self, result: PollResult) -> SourceStatus:
        errors = dict(self.errors_total)
        if result.error is not None:
            errors[result.error.reason] = errors.get(result.error.reason, 0) + 1
        return SourceStatus(
            source=self.source,
            kind=self.kind,
            last=result,
            last_success=result if result.ok else self.last_success,
            polls_total=self.polls_total + 1,
            errors_total=MappingProxyType(errors),
        )
