"""Exporter contributor for the Jolokia source: Connect worker/task JMX and Debezium MBeans.

Reads only the snapshot (and, for endpoints of a failed poll, the configured endpoint list).
Milliseconds become seconds, Kafka "percentages" (already 0..1 on the wire, checked on Connect
3.9) become `_ratio`, numeric booleans are 0/1, ages become timestamps relative to the poll.
"""

from __future__ import annotations

from collections.abc import Callable

from cdc_watch.config import Config
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.exporter.exposition import escape_label_value as _esc
from cdc_watch.exporter.render import Contributor
from cdc_watch.sources.jolokia.mbeans import TASK_GROUPS, Exported, exported
from cdc_watch.sources.jolokia.model import (
    HISTORY_STATES,
    Group,
    JolokiaClusterState,
    StreamingMetrics,
)
from cdc_watch.sources.jolokia.poll import endpoints

MS = 0.001

# The one-to-one metrics come from the attribute table (sources/jolokia/mbeans.py).
TASK_METRICS: tuple[Exported, ...] = tuple(a for g in sorted(TASK_GROUPS) for a in exported(g))
WORKER_METRICS = exported(Group.WORKER)
REBALANCE_METRICS = exported(Group.REBALANCE)
CLIENT_METRICS = exported(Group.CLIENT)
WORKER_TASK_STATES: tuple[tuple[str, str], ...] = (
    ("connector-running-task-count", "running"),
    ("connector-paused-task-count", "paused"),
    ("connector-failed-task-count", "failed"),
    ("connector-unassigned-task-count", "unassigned"),
    ("connector-destroyed-task-count", "destroyed"),
    ("connector-restarting-task-count", "restarting"),
)

STREAMING_COUNTERS: tuple[tuple[str, str], ...] = (
    ("events_seen", "cdc_debezium_streaming_events_total"),
    ("committed_transactions", "cdc_debezium_streaming_committed_transactions_total"),
    ("rolled_back_transactions", "cdc_debezium_streaming_rolled_back_transactions_total"),
    ("disconnects", "cdc_debezium_streaming_disconnects_total"),
    ("erroneous_events", "cdc_debezium_streaming_erroneous_events_total"),
    ("filtered_events", "cdc_debezium_streaming_filtered_events_total"),
    ("skipped_events", "cdc_debezium_streaming_skipped_events_total"),
)


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def _bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def jolokia_metrics(config: Callable[[], Config]) -> Contributor:
    """Contributor factory; `config` gives the configuration in use (for endpoints of a failed poll)."""

    def contribute(snapshot: Snapshot, out: MetricsWriter) -> None:
        current = config()
        for cluster in current.connect_clusters:
            if cluster.jolokia is None:
                continue
            source = f"jolokia:{cluster.name}"
            status = snapshot.sources.get(source)
            if status is None:
                continue
            cluster_labels = labels(("connect_cluster", cluster.name))
            state: JolokiaClusterState | None = status.data
            if state is None:
                if status.last is not None:  # failed poll: every endpoint down
                    for endpoint in endpoints(cluster, snapshot):
                        out.add("cdc_jolokia_up", f'{cluster_labels},endpoint="{_esc(endpoint.label)}"', 0)
                continue
            assert status.last is not None  # it succeeded, or there would be no data
            _export(state, cluster_labels, status.last.started_at, out)

    return contribute


def _export(state: JolokiaClusterState, cluster: str, polled_at: float, out: MetricsWriter) -> None:
    for reading in state.endpoints.values():
        ep = f'{cluster},endpoint="{_esc(reading.endpoint)}"'
        out.add("cdc_jolokia_up", ep, 1 if reading.up else 0)
        if not reading.up:
            continue
        out.add(
            "cdc_jolokia_info",
            f'{ep},agent_version="{_esc(reading.agent_version or "")}",protocol="{_esc(reading.protocol or "")}",worker="{_esc(reading.worker_id or "")}"',
            1,
        )
        out.add("cdc_jolokia_failed_reads", ep, len(reading.failed_reads))
        out.add("cdc_jolokia_skipped_values", ep, reading.skipped_values)
        if reading.worker is not None:
            for a in WORKER_METRICS:
                out.add(a.metric, ep, _scaled(reading.worker.get(a.name), a.scale))
        if reading.rebalance is not None:
            for a in REBALANCE_METRICS:
                out.add(a.metric, ep, _scaled(reading.rebalance.get(a.name), a.scale))
            since = reading.rebalance.get("time-since-last-rebalance-ms")  # +Infinity (None) before the first
            if since is not None:
                out.add("cdc_worker_last_rebalance_timestamp_seconds", ep, polled_at - since * MS)
        if reading.client is not None:
            for a in CLIENT_METRICS:
                out.add(a.metric, ep, _scaled(reading.client.get(a.name), a.scale))
        for connector, values in reading.worker_connectors.items():
            base = f'{ep},connector="{_esc(connector)}"'
            for attr, task_state in WORKER_TASK_STATES:
                out.add("cdc_worker_connector_tasks", f'{base},state="{task_state}"', values.get(attr))
    out.add("cdc_jolokia_unjoined_mbeans", cluster, len(state.unjoined))
    tasks = state.tasks if out.per_task else {}  # per-task series left out: skip their loops
    for (connector, task), groups in tasks.items():
        task_labels = f'{cluster},connector="{_esc(connector)}",task="{task}"'
        for a in TASK_METRICS:
            group_values = groups.get(a.group)
            if group_values is not None:
                out.add(a.metric, task_labels, _scaled(group_values.get(a.name), a.scale))
        errors = groups.get(Group.TASK_ERROR)
        if errors is not None:
            last = errors.get("last-error-timestamp")
            if last:  # 0 = never
                out.add("cdc_task_last_error_timestamp_seconds", task_labels, last * MS)
    for connector, _prefix in state.prefix_conflicts.items():
        out.add("cdc_debezium_topic_prefix_conflict", f'{cluster},connector="{_esc(connector)}"', 1)
    for connector, present_by_task in (state.streaming_present if out.per_task else {}).items():
        base = f'{cluster},connector="{_esc(connector)}"'
        for task, present in present_by_task.items():
            out.add("cdc_debezium_streaming_mbean_present", f'{base},task="{task}"', _bool(present))
    for connector, streaming in state.streaming.items():
        _streaming(streaming, f'{cluster},connector="{_esc(connector)}"', polled_at, out)
    for connector, snap in state.snapshots.items():
        base = f'{cluster},connector="{_esc(connector)}"'
        out.add("cdc_debezium_snapshot_running", base, _bool(snap.running))
        out.add("cdc_debezium_snapshot_completed", base, _bool(snap.completed))
        out.add("cdc_debezium_snapshot_aborted", base, _bool(snap.aborted))
        out.add("cdc_debezium_snapshot_paused", base, _bool(snap.paused))
        out.add("cdc_debezium_snapshot_tables", base, snap.total_tables)
        out.add("cdc_debezium_snapshot_remaining_tables", base, snap.remaining_tables)
        out.add("cdc_debezium_snapshot_duration_seconds", base, snap.duration_seconds)
        for table, rows in snap.rows_scanned.items():
            out.add("cdc_debezium_snapshot_rows_scanned", f'{base},table="{_esc(table)}"', rows)
    for connector, history in state.schema_history.items():
        base = f'{cluster},connector="{_esc(connector)}"'
        out.one_hot("cdc_debezium_schema_history_status", base, "status", history.status, HISTORY_STATES)
        out.add("cdc_debezium_schema_history_changes_applied_total", base, history.changes_applied)
        if history.ms_since_last_applied is not None:
            out.add(
                "cdc_debezium_schema_history_last_applied_timestamp_seconds",
                base,
                polled_at - history.ms_since_last_applied * MS,
            )


def _streaming(s: StreamingMetrics, base: str, polled_at: float, out: MetricsWriter) -> None:
    out.add("cdc_debezium_streaming_connected", base, _bool(s.connected))
    out.add("cdc_debezium_streaming_behind_source_seconds", base, _scaled(s.ms_behind_source, MS))
    if s.ms_since_last_event is not None:
        out.add("cdc_debezium_streaming_last_event_timestamp_seconds", base, polled_at - s.ms_since_last_event * MS)
    out.add("cdc_debezium_streaming_binlog_file_number", base, s.binlog_file_number)
    out.add("cdc_debezium_streaming_binlog_position_bytes", base, s.binlog_position)
    out.add("cdc_debezium_streaming_gtid_mode_enabled", base, _bool(s.gtid_mode_enabled))
    out.add("cdc_debezium_queue_remaining_capacity", base, s.queue_remaining_capacity)
    out.add("cdc_debezium_queue_total_capacity", base, s.queue_total_capacity)
    out.add("cdc_debezium_queue_size_bytes", base, s.queue_size_bytes)
    for kind, value in (("create", s.create_events), ("update", s.update_events), ("delete", s.delete_events)):
        out.add("cdc_debezium_streaming_change_events_total", f'{base},kind="{kind}"', value)
    for attr, name in STREAMING_COUNTERS:
        out.add(name, base, getattr(s, attr))
