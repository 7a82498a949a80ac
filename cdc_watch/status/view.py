"""The status document behind `GET /api/v1/status` and the status page (pure).

`build(inputs)` joins what the daemon knows right now into one JSON-ready dict: per source
whether it is up and its last error; per cluster and connector the REST states of the
connector and its tasks, the streaming state from Jolokia, the binlog position, lag,
availability and purge ETA, the remediation record (last restart, next allowed restart), and
the alerts on it; then every firing and pending alert with its evidence and runbook URL, the
silences, and the recent remediation log. Problems sort first. The schema is in docs/api.md.

Nothing here does I/O or reads a clock: the app hands in the snapshot, the alert and
remediation state and `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cdc_watch.analysis.binlog import ConnectorBinlog, join
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.remediation.policy import RemediationState
from cdc_watch.rules.model import AlertEntry, AlertState, Phase
from cdc_watch.rules.table import BY_NAME, runbook_url
from cdc_watch.sources.connect.model import ConnectClusterState, ConnectorStatus, State
from cdc_watch.sources.jolokia.model import JolokiaClusterState
from cdc_watch.sources.mysql.model import DatabaseState

SCHEMA_VERSION = 1
TRACE_LIMIT = 2000  # characters of a trace excerpt shown per task; alerts carry their own excerpt
_HEALTHY = {State.RUNNING}


@dataclass(frozen=True, slots=True)
class Inputs:
    snapshot: Snapshot
    now: float
    alerts: AlertState | None = None  # None: alerting is off
    silences: Sequence[Mapping[str, Any]] = ()
    remediation: RemediationState | None = None  # None: remediation is off
    remediation_log: Sequence[Mapping[str, Any]] = ()  # newest last
    runbook_base: str = ""
    version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _cluster_of(source: str) -> str:
    return source.split(":", 1)[1] if ":" in source else source


def _sources(snapshot: Snapshot) -> list[dict[str, Any]]:
    out = []
    for name, status in sorted(snapshot.sources.items()):
        last = status.last
        out.append(
            {
                "source": name,
                "kind": status.kind,
                "state": "up" if status.up else ("pending" if last is None else "down"),
                "last_poll": last.started_at if last else None,
                "duration_seconds": last.duration if last else None,
                "last_success": status.last_success.started_at if status.last_success else None,
                "error": {"reason": str(last.error.reason), "message": last.error.message}
                if last is not None and last.error is not None
                else None,
            }
        )
    return out


def _alert(entry: AlertEntry, base: str) -> dict[str, Any]:
    rule = BY_NAME.get(entry.key.alert)
    evidence = entry.evidence
    return {
        "alert": entry.key.alert,
        "severity": str(entry.severity),
        "state": str(entry.phase),
        "labels": dict(entry.key.labels),
        "active_since": entry.active_since,
        "fired_at": entry.fired_at,
        "summary": rule.summary if rule else "",
        "runbook_url": runbook_url(rule, base) if rule and base else None,
        "evidence": {
            "facts": [list(f) for f in evidence.facts],
            "why": evidence.why,
            "hint": evidence.hint,
            "trace": evidence.trace,
        },
    }


def _position(pos: Any) -> dict[str, Any] | None:
    if pos is None:
        return None
    return {
        "file": getattr(pos, "file", None),
        "position": getattr(pos, "position", None),
        "origin": str(getattr(pos, "origin", "")) or None,
    }


def _binlog(row: ConnectorBinlog | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "database": row.database,
        "position": _position(row.current),
        "restart_position": _position(row.restart),
        "lag_bytes": row.lag_bytes,
        "committed_lag_bytes": row.committed_lag_bytes,
        "status": str(row.status),
        "available": row.available,
        "purge_eta_seconds": row.purge_eta,
    }


def _streaming(jolokia: JolokiaClusterState | None, connector: str) -> dict[str, Any] | None:
    if jolokia is None:
        return None
    metrics = jolokia.streaming.get(connector)
    present = jolokia.streaming_present.get(connector)
    if metrics is None and present is None:
        return None
    return {
        "mbean_present": None if present is None else all(v is not False for v in present.values()),
        "connected": metrics.connected if metrics else None,
        "behind_source_seconds": None
        if metrics is None or metrics.ms_behind_source is None
        else metrics.ms_behind_source / 1000.0,
        "since_last_event_seconds": None
        if metrics is None or metrics.ms_since_last_event is None
        else metrics.ms_since_last_event / 1000.0,
        "binlog_file": metrics.binlog_filename if metrics else None,
        "binlog_position": metrics.binlog_position if metrics else None,
    }


def _remediation(state: RemediationState | None, cluster: str, connector: str) -> dict[str, Any] | None:
    if state is None or (cluster, connector) not in state.records:
        return None
    record = state.get(cluster, connector)
    return {
        "attempts": record.attempts,
        "last_restart": record.last_attempt,
        "next_allowed_restart": record.next_allowed,
        "suppressed": record.suppressed,
        "failure_kind": record.kind,
    }


def _task(task: Any) -> dict[str, Any]:
    trace = getattr(task, "trace", None)
    return {
        "id": task.id,
        "state": str(task.state),
        "worker": task.worker_id or None,
        "trace_excerpt": trace[:TRACE_LIMIT] if isinstance(trace, str) else None,
    }


def _problem(connector: Mapping[str, Any]) -> int:
    """Sort key: 0 for a connector with a firing alert, 1 pending, 2 not all RUNNING, 3 healthy."""
    states = {a["state"] for a in connector["alerts"]}
    if str(Phase.FIRING) in states:
        return 0
    if str(Phase.PENDING) in states:
        return 1
    if connector["state"] != str(State.RUNNING) or any(t["state"] != str(State.RUNNING) for t in connector["tasks"]):
        return 2
    return 3


def _connectors(
    inputs: Inputs, alerts_by_connector: Mapping[tuple[str, str], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    snapshot = inputs.snapshot
    databases: dict[str, DatabaseState] = {}
    for status in snapshot.by_kind("mysql"):
        if isinstance(status.data, DatabaseState):
            databases[_cluster_of(status.source)] = status.data
    clusters: list[tuple[str, ConnectClusterState, Any, Any]] = []
    for status in snapshot.by_kind("connect"):
        state = status.data if isinstance(status.data, ConnectClusterState) else None
        if state is None:
            state = snapshot.last_good(status.source)
        if isinstance(state, ConnectClusterState):
            name = _cluster_of(status.source)
            clusters.append((name, state, snapshot.data(f"jolokia:{name}"), snapshot.data(f"connect_offsets:{name}")))
    rows = {(r.cluster, r.connector): r for r in join(databases, clusters, inputs.now)} if databases else {}
    out = []
    for cluster, state, jolokia_data, _offsets in clusters:
        jolokia = jolokia_data if isinstance(jolokia_data, JolokiaClusterState) else None
        for name, connector in sorted(state.connectors.items()):
            out.append(
                _connector(inputs, cluster, name, connector, jolokia, rows.get((cluster, name)), alerts_by_connector)
            )
    out.sort(key=lambda c: (_problem(c), c["connect_cluster"], c["connector"]))
    return out


def _connector(
    inputs: Inputs,
    cluster: str,
    name: str,
    connector: ConnectorStatus,
    jolokia: JolokiaClusterState | None,
    row: ConnectorBinlog | None,
    alerts_by_connector: Mapping[tuple[str, str], list[dict[str, Any]]],
) -> dict[str, Any]:
    return {
        "connect_cluster": cluster,
        "connector": name,
        "state": str(connector.state),
        "worker": connector.worker_id or None,
        "tasks": [_task(t) for t in connector.tasks],
        "streaming": _streaming(jolokia, name),
        "binlog": _binlog(row),
        "remediation": _remediation(inputs.remediation, cluster, name),
        "alerts": alerts_by_connector.get((cluster, name), []),
    }


def _by_connector(alerts: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for alert in alerts:
        labels = alert["labels"]
        if "connect_cluster" in labels and "connector" in labels:
            out.setdefault((labels["connect_cluster"], labels["connector"]), []).append(alert)
    return out


def build(inputs: Inputs) -> dict[str, Any]:
    entries = sorted(
        inputs.alerts.entries.values() if inputs.alerts is not None else (),
        key=lambda e: (e.phase is not Phase.FIRING, e.severity.rank, e.active_since, e.key.alert, e.key.labels),
    )
    alerts = [_alert(e, inputs.runbook_base) for e in entries]
    connectors = _connectors(inputs, _by_connector(alerts))
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": inputs.now,
        "version": inputs.version,
        "alerting": inputs.alerts is not None,
        "remediation_enabled": inputs.remediation is not None,
        "alerts": alerts,
        "connectors": connectors,
        "sources": _sources(inputs.snapshot),
        "silences": [dict(s) for s in inputs.silences],
        "remediation_log": [dict(n) for n in reversed(inputs.remediation_log)],
        **inputs.extra,
    }
