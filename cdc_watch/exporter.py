"""Builds the /metrics body from one snapshot: fresh samples on every scrape.

Each subsystem contributes a function `(snapshot, writer) -> None`. Connectors and tasks
that vanish upstream vanish from the output because nothing is carried over between scrapes.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cdc_watch import __version__
from cdc_watch.exposition import MetricsWriter, labels
from cdc_watch.exposition import escape_label_value as _esc
from cdc_watch.model import KNOWN_STATES, ConnectClusterState, ErrorReason
from cdc_watch.snapshot import Snapshot
from cdc_watch.sources.connect_parse import ConnectOffsets

Contributor = Callable[[Snapshot, MetricsWriter], None]

_STATES = tuple(str(s) for s in KNOWN_STATES)


@dataclass(frozen=True, slots=True)
class ConfigStatus:
    last_reload_ok: bool
    loaded_at: float  # wall clock of the configuration in use


def self_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    out.add("cdc_build_info", labels(("version", __version__), ("python_version", platform.python_version())), 1)
    for name, status in snapshot.sources.items():
        source = labels(("source", name))
        out.add("cdc_source_up", source, 1 if status.up else 0)
        out.add("cdc_source_polls_total", source, status.polls_total)
        if status.last is not None:
            out.add("cdc_source_poll_duration_seconds", source, status.last.duration)
        if status.last_success is not None:
            out.add("cdc_source_last_success_timestamp_seconds", source, status.last_success.started_at)
        # Every reason from the start, so the first failure shows in increase() and rate().
        for reason in ErrorReason:
            out.add("cdc_source_poll_errors_total", labels(("source", name), ("reason", str(reason))), status.errors_total.get(reason, 0))


def config_metrics(status: Callable[[], ConfigStatus]) -> Contributor:
    def contribute(_: Snapshot, out: MetricsWriter) -> None:
        current = status()
        out.add("cdc_config_last_reload_successful", "", 1 if current.last_reload_ok else 0)
        out.add("cdc_config_last_reload_success_timestamp_seconds", "", current.loaded_at)

    return contribute


def connect_metrics(snapshot: Snapshot, out: MetricsWriter) -> None:
    for status in snapshot.by_kind("connect"):
        cluster_name = status.source.split(":", 1)[1]
        cluster = labels(("connect_cluster", cluster_name))
        state: ConnectClusterState | None = status.last.data if status.up else None
        out.add("cdc_connect_up", cluster, 1 if state is not None else 0)
        if state is not None:
            _cluster_metrics(state, cluster, out)
    for status in snapshot.by_kind("connect_offsets"):
        offsets = status.last.data if status.up else None
        if isinstance(offsets, ConnectOffsets):
            out.add("cdc_connect_offsets_stale", labels(("connect_cluster", status.source.split(":", 1)[1])), len(offsets.stale))


def _cluster_metrics(state: ConnectClusterState, cluster: str, out: MetricsWriter) -> None:
    out.add(
        "cdc_connect_info",
        labels(("connect_cluster", state.cluster), ("version", state.version), ("kafka_cluster_id", state.kafka_cluster_id)),
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
        if connector.worker_id:
            connectors_per_worker[connector.worker_id] += 1
        for task in connector.tasks:
            task_labels = f'{base},task="{task.id}"'
            out.one_hot("cdc_task_state", task_labels, "state", task.state, _STATES)
            if task.worker_id:
                out.add("cdc_task_worker_info", f'{task_labels},worker="{_esc(task.worker_id)}"', 1)
                tasks_per_worker[task.worker_id] += 1
    workers = state.workers
    out.add("cdc_connect_workers", cluster, len(workers))
    for worker in sorted(workers):
        worker_labels = f'{cluster},worker="{_esc(worker)}"'
        out.add("cdc_connect_worker_tasks", worker_labels, tasks_per_worker.get(worker, 0))
        out.add("cdc_connect_worker_connectors", worker_labels, connectors_per_worker.get(worker, 0))


def render(snapshot: Snapshot, contributors: Sequence[Contributor]) -> bytes:
    out = MetricsWriter()
    for contribute in contributors:
        contribute(snapshot, out)
    return out.render()
