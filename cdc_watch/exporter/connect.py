"""Exporter contributor for the Connect REST source: cluster, worker, connector and task states."""

from __future__ import annotations

import functools
from collections import Counter

from cdc_watch.analysis import failures
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels
from cdc_watch.exporter.exposition import escape_label_value as _esc
from cdc_watch.sources.connect.model import KNOWN_STATES, ConnectClusterState, State
from cdc_watch.sources.connect.parse import ConnectOffsets

_STATES = tuple(str(s) for s in KNOWN_STATES)


@functools.lru_cache(maxsize=4096)
def _retriable(trace: str | None) -> int | None:
    """1 if a FAILED connector's or task's failure is classified retriable, 0 if no restart can
    fix it, None when unknown (memoized: a failed task keeps its trace across scrapes)."""
    category = failures.classify(trace).category
    if category is failures.FailureCategory.UNKNOWN:
        return None
    return 1 if category is failures.FailureCategory.RETRIABLE else 0


def connect_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    for status in snapshot.by_kind("connect"):
        cluster_name = status.source.split(":", 1)[1]
        cluster = labels(("connect_cluster", cluster_name))
        state: ConnectClusterState | None = status.data
        out.add("cdc_connect_up", cluster, 1 if state is not None else 0)
        if state is not None:
            _cluster_metrics(state, cluster, out)
    for status in snapshot.by_kind("connect_offsets"):
        offsets = status.data
        if isinstance(offsets, ConnectOffsets):
            out.add(
                "cdc_connect_offsets_stale",
                labels(("connect_cluster", status.source.split(":", 1)[1])),
                len(offsets.stale),
            )


def _cluster_metrics(state: ConnectClusterState, cluster: str, out: MetricsWriter) -> None:
    out.add(
        "cdc_connect_info",
        labels(
            ("connect_cluster", state.cluster), ("version", state.version), ("kafka_cluster_id", state.kafka_cluster_id)
        ),
        1,
    )
    out.add("cdc_connect_connectors_excluded", cluster, state.excluded)
    out.add("cdc_connect_connectors_incomplete", cluster, len(state.incomplete))
    tasks_per_worker: Counter[str] = Counter()
    connectors_per_worker: Counter[str] = Counter()
    for connector in state.connectors.values():
        base = f'{cluster},connector="{_esc(connector.name)}"'
        out.add(
            "cdc_connector_info",
            f'{base},class="{_esc(connector.settings.connector_class if connector.settings else "")}",type="{_esc(connector.type)}"',
            1,
        )
        out.one_hot("cdc_connector_state", base, "state", connector.state, _STATES)
        out.add("cdc_connector_tasks", base, len(connector.tasks))
        if connector.state is State.FAILED and (retriable := _retriable(connector.trace)) is not None:
            out.add("cdc_connector_failure_retriable", base, retriable)
        if connector.worker_id:
            connectors_per_worker[connector.worker_id] += 1
        for task in connector.tasks:
            task_labels = f'{base},task="{task.id}"'
            out.one_hot("cdc_task_state", task_labels, "state", task.state, _STATES)
            if task.state is State.FAILED and (retriable := _retriable(task.trace)) is not None:
                out.add("cdc_task_failure_retriable", task_labels, retriable)
            if task.worker_id:
                out.add("cdc_task_worker_info", f'{task_labels},worker="{_esc(task.worker_id)}"', 1)
                tasks_per_worker[task.worker_id] += 1
    workers = state.workers
    out.add("cdc_connect_workers", cluster, len(workers))
    for worker in sorted(workers):
        worker_labels = f'{cluster},worker="{_esc(worker)}"'
        out.add("cdc_connect_worker_tasks", worker_labels, tasks_per_worker.get(worker, 0))
        out.add("cdc_connect_worker_connectors", worker_labels, connectors_per_worker.get(worker, 0))
