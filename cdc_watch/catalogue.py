"""The metrics catalogue: the single source of truth for every metric cdc_watch exports.

The exporter may only emit names listed here (it looks specs up by name), `docs/metrics.md`
is generated from it (`python -m cdc_watch.catalogue`), and the dashboards and alert rules
are checked against it by tests.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from enum import StrEnum


class MetricType(StrEnum):
    GAUGE = "gauge"
    COUNTER = "counter"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    type: MetricType
    labels: tuple[str, ...]
    help: str
    subsystem: str
    unit: str = ""  # base unit named in the metric name, for the docs


G, C = MetricType.GAUGE, MetricType.COUNTER
CLUSTER = ("connect_cluster",)
CONNECTOR = ("connect_cluster", "connector")
TASK = ("connect_cluster", "connector", "task")

CATALOGUE: tuple[MetricSpec, ...] = (
    # --- cdc_watch itself ---------------------------------------------------------------
    MetricSpec("cdc_build_info", G, ("version", "python_version"), "Always 1; labels carry the cdc_watch build.", "self"),
    MetricSpec("cdc_config_last_reload_successful", G, (), "1 if the last configuration (re)load succeeded, 0 if the new file was rejected and the previous configuration is still in use.", "self"),
    MetricSpec("cdc_config_last_reload_success_timestamp_seconds", G, (), "When the configuration in use was loaded.", "self", "seconds"),
    MetricSpec("cdc_source_up", G, ("source",), "1 if the last poll of this source succeeded.", "self"),
    MetricSpec("cdc_source_poll_duration_seconds", G, ("source",), "Duration of the last poll of this source.", "self", "seconds"),
    MetricSpec("cdc_source_last_success_timestamp_seconds", G, ("source",), "When the last successful poll of this source started.", "self", "seconds"),
    MetricSpec("cdc_source_polls_total", C, ("source",), "Polls of this source since cdc_watch started.", "self"),
    MetricSpec("cdc_source_poll_errors_total", C, ("source", "reason"), "Failed polls of this source by reason (timeout, connect, tls, auth, http_status, conflict, decode, query, internal).", "self"),
    # --- Kafka Connect REST -------------------------------------------------------------
    MetricSpec("cdc_connect_up", G, CLUSTER, "1 if the Kafka Connect REST API of this cluster answered the last poll.", "connect"),
    MetricSpec("cdc_connect_info", G, ("connect_cluster", "version", "kafka_cluster_id"), "Always 1; the Connect version and Kafka cluster id reported by the worker that answered. Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connect_connectors_excluded", G, CLUSTER, "Connectors on the cluster hidden by the include/exclude patterns. Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connect_workers", G, CLUSTER, "Distinct workers that own a connector or task. Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connect_worker_tasks", G, ("connect_cluster", "worker"), "Tasks assigned to this worker (worker id as reported by Connect). Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connect_worker_connectors", G, ("connect_cluster", "worker"), "Connector instances assigned to this worker. Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connector_info", G, ("connect_cluster", "connector", "class", "type"), "Always 1; the connector's class and type (source, sink, unknown). Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connector_state", G, ("connect_cluster", "connector", "state"), "1 for the connector's current state, 0 for the other known states (UNASSIGNED, RUNNING, PAUSED, STOPPED, RESTARTING, FAILED). Cached from the last background poll.", "connect"),
    MetricSpec("cdc_connector_tasks", G, CONNECTOR, "Tasks the connector currently has. Cached from the last background poll.", "connect"),
    MetricSpec("cdc_task_state", G, ("connect_cluster", "connector", "task", "state"), "1 for the task's current state, 0 for the other known states (UNASSIGNED, RUNNING, PAUSED, STOPPED, RESTARTING, FAILED). Cached from the last background poll.", "connect"),
    MetricSpec("cdc_task_worker_info", G, ("connect_cluster", "connector", "task", "worker"), "Always 1; the worker the task is assigned to. Cached from the last background poll.", "connect"),
)

BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}


def spec(name: str) -> MetricSpec:
    return BY_NAME[name]


def render_markdown() -> str:
    lines = [
        "# Metrics catalogue",
        "",
        "Generated from `cdc_watch/catalogue.py` by `python -m cdc_watch.catalogue`; do not edit by hand",
        "(a test fails when this page and the catalogue differ).",
        "",
        "Every metric starts with `cdc_`. States are one-hot gauges over a closed list. Values marked",
        "*cached* come from the last background poll of their source, not from the scrape itself;",
        "`cdc_source_last_success_timestamp_seconds` says how old that poll is.",
        "",
    ]
    subsystems: dict[str, list[MetricSpec]] = {}
    for metric in CATALOGUE:
        subsystems.setdefault(metric.subsystem, []).append(metric)
    titles = {
        "self": "cdc_watch itself",
        "connect": "Kafka Connect REST",
        "jolokia": "Kafka Connect and Debezium JMX (Jolokia)",
        "mysql": "MySQL / MariaDB binlog",
        "alerts": "Alerts and notifications",
        "remediation": "Remediation",
    }
    for subsystem, metrics in subsystems.items():
        lines += [f"## {titles.get(subsystem, subsystem)}", "", "| name | type | labels | help |", "|---|---|---|---|"]
        for metric in metrics:
            labels = ", ".join(f"`{label}`" for label in metric.labels) or "—"
            lines.append(f"| `{metric.name}` | {metric.type} | {labels} | {metric.help} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render_markdown())
