"""Typed values read from Kafka Connect REST: connector and task states, settings, the cluster view.

Frozen, slotted dataclasses and StrEnums built by `parse.py`; `ConnectClusterState` is what a
Connect source's poll puts in the snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.failures import Failure, explain


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


# The states exported one-hot; UNKNOWN is shown as all zeros.
KNOWN_STATES: tuple[State, ...] = (
    State.UNASSIGNED,
    State.RUNNING,
    State.PAUSED,
    State.STOPPED,
    State.RESTARTING,
    State.FAILED,
)


def _keep_failure(status: TaskStatus | ConnectorStatus) -> None:
    """A status built from a full trace (tests, generators) keeps only its `Failure`."""
    if status.failure is None and status.trace is not None:
        failure = explain(status.trace)
        object.__setattr__(status, "failure", failure)
        object.__setattr__(status, "trace", failure.excerpt if failure is not None else None)


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """`trace` is the failure's bounded excerpt (scrubbed), never the whole trace; `failure` holds
    it with its classification and digest. Given a whole trace and no failure, the status keeps
    only the failure explained from it."""

    id: int
    state: State
    worker_id: str
    trace: str | None = None
    failure: Failure | None = None

    def __post_init__(self) -> None:
        if self.failure is None and self.trace is not None:
            _keep_failure(self)


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """The only parts of a connector config cdc_watch keeps; everything else is dropped."""

    connector_class: str = ""
    topic_prefix: str = ""  # topic.prefix (2.x+) or database.server.name (1.x)
    database_hostname: str = ""
    database_port: int | None = None
    database_user: str = ""
    tasks_max: int | None = None
    # Kafka topic of the schema history (Debezium 2.x+ schema.history.internal.kafka.topic, 1.x
    # database.history.kafka.topic); "" when unset or when the history is not kept in Kafka.
    schema_history_topic: str = ""

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
    trace: str | None = None  # as TaskStatus.trace
    failure: Failure | None = None

    def __post_init__(self) -> None:
        if self.failure is None and self.trace is not None:
            _keep_failure(self)


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
    # connectors of the previous poll that Connect confirmed deleted in this one (absent from a
    # complete listing, or 404 on their status); the rules resolve their alerts at once
    deleted: frozenset[str] = frozenset()

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


_STATE_BY_NAME: dict[str, State] = {s.value: s for s in State}


def connect_state(snapshot: Snapshot, cluster: str) -> ConnectClusterState | None:
    """The cluster's state from its last Connect poll, if that poll succeeded."""
    state: ConnectClusterState | None = snapshot.data(f"connect:{cluster}")
    return state
