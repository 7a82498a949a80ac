"""Exporter contributor for the Connect REST source: cluster, worker, connector and task states."""

from __future__ import annotations

from collections import Counter

from cdc_watch.analysis import failures
from cdc_watch.core.snapshot import Snapshot
from cdc_watch.exporter.exposition import MetricsWriter, labels, one_hot_text
from cdc_watch.exporter.exposition import escape_label_value as _esc
from cdc_watch.sources.connect.model import KNOWN_STATES, ConnectClusterState, State
from cdc_watch.sources.connect.parse import ConnectOffsets

_STATES = tuple(str(s) for s in KNOWN_STATES)


def _retriable(failure: failures.Failure | None) -> int | None:
    """1 if a FAILED connector's or task's failure is classified retriable, 0 if no restart can
    fix it, None when unknown. The poll classified it when it read the trace; this only reads
    the category (no cache: hashing a `Failure` per task allocated more than the lookup saved,
    and at 20,000 connectors those allocations set off full garbage collections mid-render)."""
    if failure is None:
        return None
    category = failure.classification.category
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
    """Per connector and task: sample lines appended straight to the buckets (the bulk of a
    large /metrics body), one-hot groups as one fragment each."""
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
    info, states, counts = (out.bucket(n) for n in ("cdc_connector_info", "cdc_connector_state", "cdc_connector_tasks"))
    per_task = out.per_task
    task_states, task_workers = out.bucket("cdc_task_state"), out.bucket("cdc_task_worker_info")
    task_retriable = out.bucket("cdc_task_failure_retriable")
    by_state = None if per_task else out.bucket("cdc_connector_tasks_by_state")
    for connector in state.connectors.values():
        base = f'{cluster},connector="{_esc(connector.name)}"'
        kind = connector.settings.connector_class if connector.settings else ""
        info.append(f'cdc_connector_info{{{base},class="{_esc(kind)}",type="{_esc(connector.type)}"}} 1\n')
        states.append(one_hot_text("cdc_connector_state", base, "state", connector.state, _STATES))
        counts.append(f"cdc_connector_tasks{{{base}}} {len(connector.tasks)}\n")
        if connector.state is State.FAILED and (retriable := _retriable(connector.failure)) is not None:
            out.add("cdc_connector_failure_retriable", base, retriable)
        if connector.worker_id:
            connectors_per_worker[connector.worker_id] += 1
        for task in connector.tasks:
            if task.worker_id:
                tasks_per_worker[task.worker_id] += 1
        if not per_task:
            assert by_state is not None
            tally = Counter(str(task.state) for task in connector.tasks)
            prefix = f'cdc_connector_tasks_by_state{{{base},state="'
            by_state.append("".join(f'{prefix}{s}"}} {tally.get(s, 0)}\n' for s in _STATES))
            continue
        for task in connector.tasks:
            task_labels = f'{base},task="{task.id}"'
            task_states.append(one_hot_text("cdc_task_state", task_labels, "state", task.state, _STATES))
            if task.state is State.FAILED and (retriable := _retriable(task.failure)) is not None:
                task_retriable.append(f"cdc_task_failure_retriable{{{task_labels}}} {retriable}\n")
            if task.worker_id:
                task_workers.append(f'cdc_task_worker_info{{{task_labels},worker="{_esc(task.worker_id)}"}} 1\n')
    workers = state.workers
    out.add("cdc_connect_workers", cluster, len(workers))
    for worker in sorted(workers):
        worker_labels = f'{cluster},worker="{_esc(worker)}"'
        out.add("cdc_connect_worker_tasks", worker_labels, tasks_per_worker.get(worker, 0))
        out.add("cdc_connect_worker_connectors", worker_labels, connectors_per_worker.get(worker, 0))
