"""The remediation policy: which failed connectors and tasks to restart, and when (pure).

`evaluate(state, snapshot, now, config) -> (new state, decisions)` looks at the latest Connect
poll of each cluster and decides, per connector, to restart it or to hold back (and why).
`apply_outcome(state, decision, outcome, now, config)` records what the runner's restart call
did. Neither does I/O nor reads a clock; `runner.py` performs the calls.

What it does better than a restart cron or Strimzi's auto-restart (which restart every FAILED
task on a fixed backoff, whatever the cause):
- the failure is classified from its trace first (`failures.classify`): non-retriable failures
  (purged binlog, access denied, unknown database, bad config ...) are never restarted; unknown
  ones follow `unknown_failures`;
- never restarts a connector whose binlog position the MySQL source says is lost;
- backoff per connector (n*n+n units, capped), an optional cap per window, reset only after the
  connector stayed healthy for `reset_after` (continuously, not at one sample);
- a restart is judged on the first Connect poll that started after it: failing again counts
  toward the backoff, a 409/rebalance answer does not count at all;
- a restart call that fails (timeout, possibly after Connect received it; a lasting 5xx) is
  retried after a short, doubling backoff, and every `ERRORS_PER_ATTEMPT` consecutive failures
  count as one attempt, so a broken call never becomes a restart storm;
- at most `max_restarts_per_poll` restarts per cluster per poll, so a cluster-wide outage does
  not become a restart storm;
- a suppression is reported once per reason change, not on every poll.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from cdc_watch.analysis import failures
from cdc_watch.analysis.failures import Classification, FailureCategory
from cdc_watch.config import RemediationConfig
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorStatus, State
from cdc_watch.sources.connect.parse import version_tuple
from cdc_watch.sources.mysql import matching
from cdc_watch.sources.mysql import model as mysql_model

KIP745_SINCE = (3, 0)  # POST /connectors/{c}/restart?includeTasks=&onlyFailed=
ERRORS_PER_ATTEMPT = 3  # consecutive failed restart calls that count as one attempt


class Trigger(StrEnum):
    FAILED = "failed"  # connector or task FAILED in Connect's status
    NOT_STREAMING = "not_streaming"  # task RUNNING but Debezium says Connected=false


class Suppression(StrEnum):
    """Why a connector that needs a restart did not get one: the `reason` label."""

    NON_RETRIABLE = "non_retriable"
    UNKNOWN_FAILURE = "unknown_failure"
    BINLOG_LOST = "binlog_lost"
    EXCLUDED = "excluded"
    OPERATOR_MANAGED = "operator_managed"  # remediation.operator_managed: the operator restarts it
    BACKOFF = "backoff"
    MAX_RESTARTS = "max_restarts"
    RATE_LIMIT = "rate_limit"


class Outcome(StrEnum):
    """What a restart decision led to: the `result` label."""

    RESTARTED = "restarted"
    WOULD_RESTART = "would_restart"  # dry-run
    CONFLICT = "conflict"  # 409 / rebalance: retried on a later poll, not counted as an attempt
    NOT_FOUND = "not_found"  # connector or task gone meanwhile
    ERROR = "error"  # transport error or unexpected status: retried after error_delay; see ERRORS_PER_ATTEMPT


SUPPRESSIONS: tuple[str, ...] = tuple(s.value for s in Suppression)
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)


class Method(StrEnum):
    CONNECTOR_RESTART = "connector_restart"  # one KIP-745 call, onlyFailed=true (Connect >= 3.0)
    PER_TASK = "per_task"  # one call per task (+ a plain connector restart if it FAILED)


@dataclass(frozen=True, slots=True)
class ConnectorRecord:
    """What the policy remembers about one connector (persisted in the state file)."""

    attempts: int = 0  # restarts in the current failure streak
    last_attempt: float | None = None
    next_allowed: float | None = None
    history: tuple[float, ...] = ()  # restart times inside max_restarts_window
    healthy_since: float | None = None
    not_streaming_since: float | None = None
    suppressed: str | None = None  # last suppression reported (reported again only on change)
    awaiting_effect: bool = False  # restarted; the next fresh poll says whether it helped
    kind: str | None = None  # failure kind of the current streak
    errors: int = 0  # consecutive restart calls that failed (not yet counted as an attempt)

    def to_json(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "last_attempt": self.last_attempt,
            "next_allowed": self.next_allowed,
            "history": list(self.history),
            "healthy_since": self.healthy_since,
            "not_streaming_since": self.not_streaming_since,
            "suppressed": self.suppressed,
            "awaiting_effect": self.awaiting_effect,
            "kind": self.kind,
            "errors": self.errors,
        }

    @classmethod
    def from_json(cls, raw: Any) -> ConnectorRecord:
        if not isinstance(raw, dict):
            raise ValueError("record is not an object")

        def number(key: str) -> float | None:
            value = raw.get(key)
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"{key} is not a number")
            return float(value)

        attempts, errors = raw.get("attempts", 0), raw.get("errors", 0)
        for value in (attempts, errors):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("attempts or errors is not a count")
        history = raw.get("history", [])
        if not isinstance(history, list) or not all(
            isinstance(t, (int, float)) and not isinstance(t, bool) for t in history
        ):
            raise ValueError("history is not a list of times")
        suppressed = raw.get("suppressed")
        kind = raw.get("kind")
        return cls(
            attempts=attempts,
            last_attempt=number("last_attempt"),
            next_allowed=number("next_allowed"),
            history=tuple(float(t) for t in history),
            healthy_since=number("healthy_since"),
            not_streaming_since=number("not_streaming_since"),
            suppressed=suppressed if suppressed in SUPPRESSIONS else None,
            awaiting_effect=bool(raw.get("awaiting_effect", False)),
            kind=kind if kind in failures.KINDS else None,
            errors=errors,
        )


Key = tuple[str, str]  # (connect cluster, connector)


@dataclass(frozen=True, slots=True)
class RemediationState:
    records: Mapping[Key, ConnectorRecord] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, cluster: str, connector: str) -> ConnectorRecord:
        return self.records.get((cluster, connector), ConnectorRecord())

    def with_record(self, cluster: str, connector: str, record: ConnectorRecord | None) -> RemediationState:
        records = dict(self.records)
        if record is None or record == ConnectorRecord():
            records.pop((cluster, connector), None)
        else:
            records[(cluster, connector)] = record
        return RemediationState(MappingProxyType(records))

    def to_json(self) -> dict[str, Any]:
        clusters: dict[str, dict[str, Any]] = {}
        for (cluster, connector), record in sorted(self.records.items()):
            clusters.setdefault(cluster, {})[connector] = record.to_json()
        return {"clusters": clusters}

    @classmethod
    def from_json(cls, raw: Any) -> RemediationState:
        """Raises ValueError on a section that does not have the expected shape."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or not isinstance(raw.get("clusters", {}), dict):
            raise ValueError("remediation section is not an object with clusters")
        records: dict[Key, ConnectorRecord] = {}
        for cluster, connectors in raw.get("clusters", {}).items():
            if not isinstance(connectors, dict):
                raise ValueError(f"cluster {cluster!r} is not an object")
            for connector, record in connectors.items():
                records[(str(cluster), str(connector))] = ConnectorRecord.from_json(record)
        return cls(MappingProxyType(records))


@dataclass(frozen=True, slots=True)
class Decision:
    """One thing the runner must do (restart) or report (suppression)."""

    cluster: str
    connector: str
    trigger: Trigger
    restart: bool  # False: a suppression, only logged and counted
    reason: Suppression | None = None
    classification: Classification | None = None
    tasks: tuple[int, ...] = ()  # tasks the restart is for (FAILED ones, or the not-streaming ones)
    restart_connector: bool = False  # the Connector instance itself FAILED
    method: Method = Method.CONNECTOR_RESTART
    attempt: int = 0  # which attempt of the streak this restart is (1 = first)
    next_allowed: float | None = None  # when the following restart may happen (if this one is made)
    dry_run: bool = False


def backoff_delay(attempts: int, config: RemediationConfig) -> float:
    """Seconds to wait after `attempts` restarts: min((n*n+n) * base, max)."""
    if attempts <= 0:
        return 0.0
    return min(float(attempts * attempts + attempts) * config.backoff_base, config.backoff_max)


def error_delay(errors: int, config: RemediationConfig) -> float:
    """Seconds to wait after `errors` consecutive failed restart calls: base/2, then doubling."""
    return min(config.backoff_base / 2 * 2.0 ** (errors - 1), config.backoff_max)


# ------------------------------------------------------------------------------- inputs
def _binlog_availability(
    snapshot: Snapshot, cluster: str, connector: str, state: ConnectClusterState, now: float
) -> bool | None:
    """The MySQL source's verdict on the connector's restart position: False = lost.

    Uses the binlog join (cdc_watch.binlog) over every database state in the snapshot; None
    when no database source is configured or it cannot tell.
    """
    try:
        from cdc_watch.analysis import binlog
    except ImportError:  # the MySQL source is not part of this build
        return None
    databases = {}
    for status in snapshot.sources.values():
        data = status.last.data if status.last is not None and status.last.ok else None
        if isinstance(data, mysql_model.DatabaseState):
            databases[data.endpoint.database] = data
    if not databases:
        return None
    settings = state.connectors[connector].settings
    database = matching.assign_database([db.endpoint for db in databases.values()], cluster, connector, settings)
    if database is None or database not in databases:
        return None
    row = binlog.join_connector(
        databases[database],
        cluster,
        connector,
        snapshot.data(f"jolokia:{cluster}"),
        snapshot.data(f"connect_offsets:{cluster}"),
        now,
    )
    return row.available


def _streaming_connected(snapshot: Snapshot, cluster: str, connector: str) -> bool | None:
    """Debezium's streaming MBean `Connected` for the connector (Jolokia source), None if unknown."""
    data = snapshot.data(f"jolokia:{cluster}")
    streaming = getattr(data, "streaming", None)
    if not isinstance(streaming, Mapping):
        return None
    metrics = streaming.get(connector)
    connected = getattr(metrics, "connected", None)
    return connected if isinstance(connected, bool) else None


def _classify(connector: ConnectorStatus) -> Classification:
    """One verdict for the connector: any non-retriable failure wins, then any unknown one."""
    kept = [t.failure for t in connector.tasks if t.state is State.FAILED]
    if connector.state is State.FAILED:
        kept.append(connector.failure)
    results = [failures.classify_failure(failure) for failure in kept] or [failures.classify(None)]
    for category in (FailureCategory.NON_RETRIABLE, FailureCategory.UNKNOWN, FailureCategory.RETRIABLE):
        for result in results:
            if result.category is category:
                return result
    return results[0]


# ------------------------------------------------------------------------------- the policy
@dataclass(slots=True)
class _Round:
    """Per-cluster bookkeeping while one evaluation runs."""

    restarts: int = 0


def evaluate(
    state: RemediationState,
    snapshot: Snapshot,
    now: float,
    config: RemediationConfig,
    clusters: Iterable[str] | None = None,
) -> tuple[RemediationState, list[Decision]]:
    """Decide for every connector of the given clusters (default: every polled cluster)."""
    decisions: list[Decision] = []
    wanted = set(clusters) if clusters is not None else None
    configured = {s.source.split(":", 1)[1] for s in snapshot.by_kind("connect")}
    # Forget clusters that are no longer configured.
    for cluster, recorded in list(state.records):
        if cluster not in configured:
            state = state.with_record(cluster, recorded, None)
    for status in snapshot.by_kind("connect"):
        cluster = status.source.split(":", 1)[1]
        if wanted is not None and cluster not in wanted:
            continue
        if status.last is None or not status.last.ok or not isinstance(status.last.data, ConnectClusterState):
            continue  # no fresh view of this cluster: decide nothing, keep what we know
        data: ConnectClusterState = status.last.data
        polled_at = status.last.started_at
        # Connectors deleted upstream (or excluded by include/exclude) are forgotten.
        for key in [k for k in state.records if k[0] == cluster and k[1] not in data.connectors]:
            state = state.with_record(key[0], key[1], None)
        round_ = _Round()
        for name, connector in data.connectors.items():
            record, decision = _decide(
                state.get(cluster, name), snapshot, cluster, data, connector, polled_at, now, config, round_
            )
            state = state.with_record(cluster, name, record)
            if decision is not None:
                decisions.append(decision)
    return state, decisions


def _prune(history: tuple[float, ...], now: float, config: RemediationConfig) -> tuple[float, ...]:
    return tuple(t for t in history if now - t < config.max_restarts_window)


def _decide(
    record: ConnectorRecord,
    snapshot: Snapshot,
    cluster: str,
    data: ConnectClusterState,
    connector: ConnectorStatus,
    polled_at: float,
    now: float,
    config: RemediationConfig,
    round_: _Round,
) -> tuple[ConnectorRecord, Decision | None]:
    name = connector.name
    record = replace(record, history=_prune(record.history, now, config))
    if record.last_attempt is not None and polled_at <= record.last_attempt:
        return record, None  # this poll predates our restart: its effect is not visible yet

    failed_tasks = tuple(t.id for t in connector.tasks if t.state is State.FAILED)
    failing = connector.state is State.FAILED or bool(failed_tasks)
    trigger: Trigger | None = Trigger.FAILED if failing else None
    restart_tasks = failed_tasks

    if trigger is None:
        running = (
            connector.state is State.RUNNING
            and bool(connector.tasks)
            and all(t.state is State.RUNNING for t in connector.tasks)
        )
        connected = _streaming_connected(snapshot, cluster, name) if running else None
        if running and connected is False:
            since = record.not_streaming_since if record.not_streaming_since is not None else polled_at
            record = replace(record, not_streaming_since=since, healthy_since=None)
            if config.restart_not_streaming and now - since >= config.not_streaming_for:
                trigger = Trigger.NOT_STREAMING
                restart_tasks = tuple(t.id for t in connector.tasks)
        else:
            record = replace(record, not_streaming_since=None)
        if trigger is None:
            return _observe_not_failing(record, running and connected is not False, polled_at, now, config), None

    # Something needs a restart.
    record = replace(record, healthy_since=None)
    classification = _classify(connector) if trigger is Trigger.FAILED else None
    if record.awaiting_effect:
        record = replace(record, awaiting_effect=False)  # the restart did not help: it counted
    if classification is not None:
        record = replace(record, kind=classification.kind)

    def suppress(reason: Suppression) -> tuple[ConnectorRecord, Decision | None]:
        if record.suppressed == reason.value:
            return record, None
        return replace(record, suppressed=reason.value), Decision(
            cluster,
            name,
            trigger,
            restart=False,
            reason=reason,
            classification=classification,
            tasks=restart_tasks,
            restart_connector=connector.state is State.FAILED,
            attempt=record.attempts,
            next_allowed=record.next_allowed,
            dry_run=config.dry_run,
        )

    if config.excludes(cluster, name):
        return suppress(Suppression.EXCLUDED)
    if config.operator_manages(cluster, name):
        return suppress(Suppression.OPERATOR_MANAGED)
    if classification is not None and classification.category is FailureCategory.NON_RETRIABLE:
        return suppress(Suppression.NON_RETRIABLE)
    if (
        classification is not None
        and classification.category is FailureCategory.UNKNOWN
        and config.unknown_failures == "skip"
    ):
        return suppress(Suppression.UNKNOWN_FAILURE)
    if _binlog_availability(snapshot, cluster, name, data, now) is False:
        return suppress(Suppression.BINLOG_LOST)
    if record.next_allowed is not None and now < record.next_allowed:
        return suppress(Suppression.BACKOFF)
    if config.max_restarts is not None and len(record.history) >= config.max_restarts:
        return suppress(Suppression.MAX_RESTARTS)
    if round_.restarts >= config.max_restarts_per_poll:
        return suppress(Suppression.RATE_LIMIT)

    round_.restarts += 1
    if trigger is Trigger.FAILED and version_tuple(data.version) >= KIP745_SINCE:
        method = Method.CONNECTOR_RESTART
    else:
        method = Method.PER_TASK
    attempt = record.attempts + 1
    return record, Decision(
        cluster,
        name,
        trigger,
        restart=True,
        classification=classification,
        tasks=restart_tasks,
        restart_connector=connector.state is State.FAILED,
        method=method,
        attempt=attempt,
        next_allowed=now + backoff_delay(attempt, config),
        dry_run=config.dry_run,
    )


def _observe_not_failing(
    record: ConnectorRecord, healthy: bool, polled_at: float, now: float, config: RemediationConfig
) -> ConnectorRecord:
    """Track how long the connector has been healthy; forget its streak after `reset_after`."""
    if not healthy:
        # PAUSED, STOPPED, UNASSIGNED, RESTARTING, or not streaming: neither failing nor healthy.
        return replace(record, healthy_since=None)
    since = record.healthy_since if record.healthy_since is not None else polled_at
    record = replace(record, healthy_since=since, awaiting_effect=False, suppressed=None, errors=0)
    if record.attempts and now - since >= config.reset_after:
        record = replace(record, attempts=0, next_allowed=None, kind=None, healthy_since=since)
    if not record.attempts:
        return ConnectorRecord(history=record.history)  # only the cap's window is still needed
    return record


def apply_outcome(
    state: RemediationState, decision: Decision, outcome: Outcome, now: float, config: RemediationConfig
) -> RemediationState:
    """Record a restart call's outcome: a made (or dry-run) restart counts as an attempt, and so
    does every ERRORS_PER_ATTEMPT-th consecutive failed call (it may have reached Connect)."""
    record = state.get(decision.cluster, decision.connector)
    if outcome is Outcome.ERROR and record.errors + 1 < ERRORS_PER_ATTEMPT:
        errors = record.errors + 1
        record = replace(record, errors=errors, next_allowed=now + error_delay(errors, config), suppressed=None)
        return state.with_record(decision.cluster, decision.connector, record)
    if outcome in (Outcome.RESTARTED, Outcome.WOULD_RESTART, Outcome.ERROR):
        attempts = record.attempts + 1
        record = replace(
            record,
            attempts=attempts,
            last_attempt=now,
            next_allowed=now + backoff_delay(attempts, config),
            history=(*_prune(record.history, now, config), now),
            suppressed=None,
            awaiting_effect=True,
            not_streaming_since=None,
            healthy_since=None,
            errors=0,
        )
        return state.with_record(decision.cluster, decision.connector, record)
    if outcome is Outcome.NOT_FOUND:
        return state.with_record(decision.cluster, decision.connector, None)
    return state  # CONFLICT: try again on a later poll; nothing counted
