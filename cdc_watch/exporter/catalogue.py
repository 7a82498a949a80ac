"""The metrics catalogue: the single source of truth for every metric cdc_watch exports.

The exporter may only emit names listed here (it looks specs up by name), `docs/metrics.md`
is generated from it (`python -m generate`), and the dashboards and alert rules
are checked against it by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cdc_watch.sources.jolokia.mbeans import ATTRIBUTES, TASK_GROUPS


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


def _unit(name: str) -> str:
    for suffix, unit in (("_seconds", "seconds"), ("_ratio", "ratio"), ("_bytes_total", "bytes")):
        if name.endswith(suffix):
            return unit
    return ""


def jmx_specs() -> tuple[MetricSpec, ...]:
    """The specs of the Connect JMX metrics, built from their rows in the attribute table."""
    return tuple(
        MetricSpec(
            a.metric,
            C if a.metric.endswith("_total") else G,
            TASK if a.group in TASK_GROUPS else ("connect_cluster", "endpoint"),
            a.help,
            "jolokia",
            _unit(a.metric),
        )
        for a in ATTRIBUTES
        if a.metric
    )


CATALOGUE: tuple[MetricSpec, ...] = (
    # --- cdc_watch itself ---------------------------------------------------------------
    MetricSpec(
        "cdc_build_info",
        G,
        ("version", "revision", "python_version"),
        "Always 1; labels carry the cdc_watch build (revision: its git commit, or unknown).",
        "self",
    ),
    MetricSpec(
        "cdc_config_last_reload_successful",
        G,
        (),
        "1 if the last configuration (re)load succeeded, 0 if the new file was rejected and the previous configuration is still in use.",
        "self",
    ),
    MetricSpec(
        "cdc_config_last_reload_success_timestamp_seconds",
        G,
        (),
        "When the configuration in use was loaded.",
        "self",
        "seconds",
    ),
    MetricSpec(
        "cdc_web_connections_open",
        G,
        (),
        "HTTP connections open on the daemon's web port (scrapers, idle keep-alive, half-sent), as of the last render.",
        "self",
    ),
    MetricSpec(
        "cdc_web_connections_shed_total",
        C,
        (),
        "HTTP connections refused because the web server already held its maximum (answered 503 or closed).",
        "self",
    ),
    MetricSpec(
        "cdc_web_request_timeouts_total",
        C,
        (),
        "HTTP connections closed because a request was not read, or a response not written, within its deadline, or sat idle too long.",
        "self",
    ),
    MetricSpec(
        "cdc_web_metrics_renders_total",
        C,
        (),
        "Times the /metrics body was rendered (once per poll generation, not per scrape).",
        "self",
    ),
    MetricSpec("cdc_source_up", G, ("source",), "1 if the last poll of this source succeeded.", "self"),
    MetricSpec(
        "cdc_source_poll_duration_seconds",
        G,
        ("source",),
        "Duration of the last poll of this source.",
        "self",
        "seconds",
    ),
    MetricSpec(
        "cdc_source_last_success_timestamp_seconds",
        G,
        ("source",),
        "When the last successful poll of this source started.",
        "self",
        "seconds",
    ),
    MetricSpec("cdc_source_polls_total", C, ("source",), "Polls of this source since cdc_watch started.", "self"),
    MetricSpec(
        "cdc_source_poll_errors_total",
        C,
        ("source", "reason"),
        "Failed polls of this source by reason (timeout, connect, tls, auth, http_status, conflict, decode, too_large, query, internal).",
        "self",
    ),
    # --- Kafka Connect REST -------------------------------------------------------------
    MetricSpec(
        "cdc_connect_up",
        G,
        CLUSTER,
        "1 if the Kafka Connect REST API of this cluster answered the last poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_info",
        G,
        ("connect_cluster", "version", "kafka_cluster_id"),
        "Always 1; the Connect version and Kafka cluster id reported by the worker that answered. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_connectors_excluded",
        G,
        CLUSTER,
        "Connectors on the cluster hidden by the include/exclude patterns. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_connectors_incomplete",
        G,
        CLUSTER,
        "Connectors the last Connect reply left out or gave without their status or info (a status lookup failing inside Connect); each keeps its last known status and info for 3 polls. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_offsets_stale",
        G,
        CLUSTER,
        "Debezium binlog connectors whose committed offsets the last offsets poll could not read; their offsets are kept from the last poll that read them (the failures are logged). Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_workers",
        G,
        CLUSTER,
        "Distinct workers that own a connector or task. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_worker_tasks",
        G,
        ("connect_cluster", "worker"),
        "Tasks assigned to this worker (worker id as reported by Connect). Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connect_worker_connectors",
        G,
        ("connect_cluster", "worker"),
        "Connector instances assigned to this worker. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connector_info",
        G,
        ("connect_cluster", "connector", "class", "type"),
        "Always 1; the connector's class and type (source, sink, unknown). Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connector_state",
        G,
        ("connect_cluster", "connector", "state"),
        "1 for the connector's current state, 0 for the other known states (UNASSIGNED, RUNNING, PAUSED, STOPPED, RESTARTING, FAILED). Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connector_tasks",
        G,
        CONNECTOR,
        "Tasks the connector currently has. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connector_tasks_by_state",
        G,
        ("connect_cluster", "connector", "state"),
        "Tasks of the connector in each known state (UNASSIGNED, RUNNING, PAUSED, STOPPED, RESTARTING, FAILED); exported instead of the per-task series when exporter.per_task_metrics is false. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_task_state",
        G,
        ("connect_cluster", "connector", "task", "state"),
        "1 for the task's current state, 0 for the other known states (UNASSIGNED, RUNNING, PAUSED, STOPPED, RESTARTING, FAILED). Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_connector_failure_retriable",
        G,
        CONNECTOR,
        "For a FAILED connector: 1 if its failure is classified retriable (a restart may fix it), 0 if not (e.g. access denied, binlog purged); absent when not FAILED or the failure is not recognised. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_task_failure_retriable",
        G,
        TASK,
        "For a FAILED task: 1 if its failure is classified retriable (a restart may fix it), 0 if not (e.g. access denied, binlog purged); absent when not FAILED or the failure is not recognised. Cached from the last background poll.",
        "connect",
    ),
    MetricSpec(
        "cdc_task_worker_info",
        G,
        ("connect_cluster", "connector", "task", "worker"),
        "Always 1; the worker the task is assigned to. Cached from the last background poll.",
        "connect",
    ),
    # --- Jolokia: Kafka Connect worker/task JMX and Debezium MBeans ----------------------
    MetricSpec(
        "cdc_jolokia_up",
        G,
        ("connect_cluster", "endpoint"),
        "1 if this Jolokia endpoint answered the last bulk read, 0 if it failed (endpoint = configured URL or the worker id the URL template was filled from).",
        "jolokia",
    ),
    MetricSpec(
        "cdc_jolokia_info",
        G,
        ("connect_cluster", "endpoint", "agent_version", "protocol", "worker"),
        "Always 1; the Jolokia agent and protocol version and the Connect worker id of the endpoint. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_jolokia_failed_reads",
        G,
        ("connect_cluster", "endpoint"),
        "Reads inside the last bulk reply of this endpoint that failed with an error status (policy denial, getter failure); patterns matching nothing are not failures. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_jolokia_skipped_values",
        G,
        ("connect_cluster", "endpoint"),
        "Attribute values in the last bulk reply of this endpoint that were skipped because no float can hold them (an integer past 1.8e308 or of more than 4,300 digits, a number literal overflowing to infinity); the rest of the reply is used. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_jolokia_unjoined_mbeans",
        G,
        CLUSTER,
        "Debezium MBean server names (topic prefixes) no connector of this cluster claims, or all of them until the Connect REST poll has succeeded. Cached from the last background poll.",
        "jolokia",
    ),
    *jmx_specs(),  # the Connect JMX metrics: one row each in sources/jolokia/mbeans.py
    MetricSpec(
        "cdc_worker_connector_tasks",
        G,
        ("connect_cluster", "endpoint", "connector", "state"),
        "Tasks of the connector on this worker by state (running, paused, failed, unassigned, destroyed, restarting); sum over endpoints for the cluster. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_worker_last_rebalance_timestamp_seconds",
        G,
        ("connect_cluster", "endpoint"),
        "When this worker last completed a rebalance (poll time minus time-since-last-rebalance); absent before the first. Cached from the last background poll.",
        "jolokia",
        "seconds",
    ),
    MetricSpec(
        "cdc_task_last_error_timestamp_seconds",
        G,
        TASK,
        "When the task last had a record error; absent if never. Cached from the last background poll.",
        "jolokia",
        "seconds",
    ),
    MetricSpec(
        "cdc_debezium_streaming_mbean_present",
        G,
        TASK,
        "Per RUNNING task of a Debezium MySQL/MariaDB connector: 1 if its streaming MBean is registered, 0 if the worker running it answered without it (the purge restart loop that Connect's status hides); absent when it cannot be told. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_topic_prefix_conflict",
        G,
        CONNECTOR,
        "1 if this connector shares its topic prefix with another connector running in the same worker JVM; its Debezium metrics are then withheld because they cannot be attributed. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_connected",
        G,
        CONNECTOR,
        "1 if Debezium's binlog client is connected to the database. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_behind_source_seconds",
        G,
        CONNECTOR,
        "Delay between a binlog event's commit on the database and Debezium reading it, as of the last event read (stale while idle); absent before the first event. Cached from the last background poll.",
        "jolokia",
        "seconds",
    ),
    MetricSpec(
        "cdc_debezium_streaming_last_event_timestamp_seconds",
        G,
        CONNECTOR,
        "When Debezium last read a binlog event (poll time minus MilliSecondsSinceLastEvent, second resolution); absent if none yet. Cached from the last background poll.",
        "jolokia",
        "seconds",
    ),
    MetricSpec(
        "cdc_debezium_streaming_binlog_file_number",
        G,
        CONNECTOR,
        "Numeric suffix of the binlog file Debezium is reading (mysql-bin.000042 -> 42). Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_binlog_position_bytes",
        G,
        CONNECTOR,
        "Byte position Debezium's binlog client has read to in that file (ahead of the committed offset). Cached from the last background poll.",
        "jolokia",
        "bytes",
    ),
    MetricSpec(
        "cdc_debezium_streaming_gtid_mode_enabled",
        G,
        CONNECTOR,
        "1 if Debezium sees GTID mode enabled on the database. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_queue_remaining_capacity",
        G,
        CONNECTOR,
        "Free slots in Debezium's internal change-event queue. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_queue_total_capacity",
        G,
        CONNECTOR,
        "Size of Debezium's internal change-event queue (max.queue.size). Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_queue_size_bytes",
        G,
        CONNECTOR,
        "Bytes currently held in Debezium's internal queue. Cached from the last background poll.",
        "jolokia",
        "bytes",
    ),
    MetricSpec(
        "cdc_debezium_streaming_events_total",
        C,
        CONNECTOR,
        "Binlog events Debezium has seen while streaming, data and non-data. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_change_events_total",
        C,
        ("connect_cluster", "connector", "kind"),
        "Change events seen while streaming by kind (create, update, delete). Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_committed_transactions_total",
        C,
        CONNECTOR,
        "Committed transactions Debezium has seen. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_rolled_back_transactions_total",
        C,
        CONNECTOR,
        "Rolled-back transactions Debezium has seen. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_disconnects_total",
        C,
        CONNECTOR,
        "Disconnects of Debezium's binlog client. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_erroneous_events_total",
        C,
        CONNECTOR,
        "Binlog events Debezium could not process. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_filtered_events_total",
        C,
        CONNECTOR,
        "Events dropped by Debezium's include/exclude filters. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_streaming_skipped_events_total",
        C,
        CONNECTOR,
        "Binlog events Debezium skipped. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_running",
        G,
        CONNECTOR,
        "1 while Debezium's snapshot runs. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_completed",
        G,
        CONNECTOR,
        "1 once Debezium's snapshot has completed. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_aborted",
        G,
        CONNECTOR,
        "1 if Debezium's snapshot was aborted. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_paused",
        G,
        CONNECTOR,
        "1 while an incremental snapshot is paused (Debezium 2.0+). Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_tables",
        G,
        CONNECTOR,
        "Tables the snapshot covers. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_remaining_tables",
        G,
        CONNECTOR,
        "Tables the snapshot has still to copy. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_duration_seconds",
        G,
        CONNECTOR,
        "How long the snapshot has run (0 before it starts). Cached from the last background poll.",
        "jolokia",
        "seconds",
    ),
    MetricSpec(
        "cdc_debezium_snapshot_rows_scanned",
        G,
        ("connect_cluster", "connector", "table"),
        "Rows the snapshot has scanned per captured table. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_schema_history_status",
        G,
        ("connect_cluster", "connector", "status"),
        "1 for the schema history's current status, 0 for the others (STOPPED, RECOVERING, RUNNING). Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_schema_history_changes_applied_total",
        C,
        CONNECTOR,
        "Schema changes applied to Debezium's schema history. Cached from the last background poll.",
        "jolokia",
    ),
    MetricSpec(
        "cdc_debezium_schema_history_last_applied_timestamp_seconds",
        G,
        CONNECTOR,
        "When the last schema change was applied (poll time minus MilliSecondsSinceLastAppliedChange); absent if none. Cached from the last background poll.",
        "jolokia",
        "seconds",
    ),
    # --- MySQL / MariaDB binlog ---------------------------------------------------------
    MetricSpec(
        "cdc_mysql_up",
        G,
        ("database",),
        "1 if the last poll of this database succeeded (connected and read its variables).",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_info",
        G,
        ("database", "flavour", "version"),
        "Always 1; the server flavour (mysql, mariadb, aurora_mysql) and version. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_server_id",
        G,
        ("database",),
        "The server's server_id; a change behind the same endpoint is counted as a failover. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_read_only",
        G,
        ("database",),
        "1 if the server is read_only (a replica or standby). Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_failovers_total",
        C,
        ("database",),
        "Changes of server_uuid or server_id behind the same endpoint, or read_only flips, seen by cdc_watch; the count is kept in the state file across its restarts, and a change that happened while it was down counts at its next poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_setting_ok",
        G,
        ("database", "setting"),
        "1 if the server setting Debezium needs is right (log_bin, binlog_format, binlog_row_image, binlog_row_value_options, log_replica_updates), 0 if not; no sample when the server does not report it. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_privilege_ok",
        G,
        ("database", "privilege"),
        "0 if a connector's database user on this database lacks the global privilege Debezium needs (select, reload, show_databases, replication_slave, replication_client = BINLOG MONITOR on MariaDB), 1 if every connector user has it; no sample when that is unknown (grants not readable, a user not checkable: see cdc_mysql_check_unknown). Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_user_privilege_ok",
        G,
        ("database", "user", "privilege"),
        "1 if this connector database user (database.user of a connector config, or the database's connector_user) has the global privilege Debezium needs, 0 if not; no sample for a user whose grants could not be read. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_mysql_check_unknown",
        G,
        ("database", "check"),
        "1 when this check could not be made (binlog_status, binary_logs, grants, retention): the monitoring user lacks a grant, a statement failed, or a connector's database.user is a config provider reference; the reason is logged. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_binlog_head_file_number",
        G,
        ("database",),
        "Numeric suffix of the binlog file the server writes to (mysql-bin.000042 -> 42). Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_binlog_head_position_bytes",
        G,
        ("database",),
        "Byte position of the binlog head in that file. Cached from the last background poll.",
        "mysql",
        "bytes",
    ),
    MetricSpec(
        "cdc_binlog_oldest_file_number",
        G,
        ("database",),
        "Numeric suffix of the oldest binlog file still on the server. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_binlog_files",
        G,
        ("database",),
        "Binlog files on the server (SHOW BINARY LOGS). Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_binlog_size_bytes",
        G,
        ("database",),
        "Total size of the binlog files on the server. Cached from the last background poll.",
        "mysql",
        "bytes",
    ),
    MetricSpec(
        "cdc_binlog_retention_seconds",
        G,
        ("database",),
        "Age after which the server purges a binlog file (binlog_expire_logs_seconds, expire_logs_days, Aurora binlog retention hours); 0 means files are never purged by age; no sample when unknown. Cached from the last background poll.",
        "mysql",
        "seconds",
    ),
    MetricSpec(
        "cdc_binlog_written_bytes_total",
        C,
        ("database",),
        "Binlog bytes the server wrote since cdc_watch started watching it (movement of the head between polls).",
        "mysql",
        "bytes",
    ),
    MetricSpec(
        "cdc_connector_database_info",
        G,
        ("connect_cluster", "connector", "database"),
        "Always 1; the configured database this Debezium connector reads (by hostname and port, or by the database's connectors patterns). Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_connector_binlog_lag_bytes",
        G,
        CONNECTOR,
        "Binlog bytes between the connector's position and the database head, across files. The position is live from Debezium's streaming MBean while the connector and its tasks are RUNNING, else the committed offset (a paused Debezium keeps reading into its queue, so its live position is not progress). Cached from the last background poll.",
        "mysql",
        "bytes",
    ),
    MetricSpec(
        "cdc_connector_binlog_committed_lag_bytes",
        G,
        CONNECTOR,
        "Binlog bytes between the connector's committed offset (where a restart resumes) and the database head; grows when delivery stalls even while Debezium keeps reading ahead. Committed offsets are polled at the cluster's offsets_interval. Cached from the last background poll.",
        "mysql",
        "bytes",
    ),
    MetricSpec(
        "cdc_connector_binlog_position_live",
        G,
        CONNECTOR,
        "1 if the position behind cdc_connector_binlog_lag_bytes comes from Debezium's streaming MBean, 0 if from its committed offset. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_connector_binlog_file_number",
        G,
        CONNECTOR,
        "Numeric suffix of the binlog file of the connector's position. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_connector_binlog_available",
        G,
        CONNECTOR,
        "1 if the binlog file (or in GTID mode the GTID set) the connector needs to restart from is still on the server, 0 if it was purged or belongs to another server (cdc_connector_binlog_status says which): the position is lost. No sample when unknown. Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_connector_binlog_status",
        G,
        ("connect_cluster", "connector", "status"),
        "1 for the state of the connector's restart position on the server, 0 for the others (available, purged, unknown_file, basename_changed, gtids_purged, gtids_unknown, other_server = a file/position committed on the server behind the endpoint before a failover). Cached from the last background poll.",
        "mysql",
    ),
    MetricSpec(
        "cdc_connector_binlog_purge_eta_seconds",
        G,
        CONNECTOR,
        "Estimated seconds until the server purges the binlog file the connector needs (0 once purged); for the file being written it is the retention, a lower bound. +Inf when files are never purged by age (cdc_binlog_retention_seconds == 0); no sample when the estimate is unknown. Cached from the last background poll.",
        "mysql",
        "seconds",
    ),
    # --- the freshness canary ------------------------------------------------------------
    MetricSpec(
        "cdc_canary_active",
        G,
        CONNECTOR,
        "1 if the canary probed this connector in its last round, 0 if it skipped it (connector or a task not RUNNING, over max_connectors, no topic.prefix). Cached from the last canary round.",
        "canary",
    ),
    MetricSpec(
        "cdc_canary_latency_seconds",
        G,
        CONNECTOR,
        "Time from the commit of the last successful canary row to its change event on the connector's topic, as seen by cdc_watch's consumer. Cached from the last canary round.",
        "canary",
        "seconds",
    ),
    MetricSpec(
        "cdc_canary_last_success_timestamp_seconds",
        G,
        CONNECTOR,
        "When a canary probe of this connector last reached its topic; before the first success of the current run of probes, when that run began (so staleness counts from the start). Absent while the connector is skipped and has never succeeded.",
        "canary",
        "seconds",
    ),
    MetricSpec(
        "cdc_canary_probes_total",
        C,
        ("connect_cluster", "connector", "outcome"),
        "Canary rounds per connector by outcome: ok (on the topic in time), lost (not on the topic within the canary timeout), skipped (not probed). Since cdc_watch started.",
        "canary",
    ),
    # --- Kafka: schema history topics ---------------------------------------------------
    MetricSpec(
        "cdc_schema_history_topic_ok",
        G,
        ("connect_cluster", "connector", "check"),
        "1 if the connector's schema history topic passes the check, 0 if not: exists, partitions (exactly one), retention (retention.ms and retention.bytes unlimited), cleanup_policy (delete, never compact). Only exists is exported for a missing topic; no sample when the broker does not say enough to judge. Cached from the last background poll of kafka:<connect_cluster>.",
        "kafka",
    ),
    MetricSpec(
        "cdc_schema_history_topic_info",
        G,
        ("connect_cluster", "connector", "topic"),
        "Always 1; the Kafka topic the connector keeps its schema history in (schema.history.internal.kafka.topic, database.history.kafka.topic on Debezium 1.x). Cached from the last background poll.",
        "kafka",
    ),
    MetricSpec(
        "cdc_schema_history_topic_partitions",
        G,
        CONNECTOR,
        "Partitions of the connector's schema history topic; no sample when the topic does not exist. Cached from the last background poll.",
        "kafka",
    ),
    MetricSpec(
        "cdc_schema_history_topics_stale",
        G,
        CLUSTER,
        "Connectors whose history topic settings the last poll did not read (past the per-poll cap, or the read failed): their retention and cleanup_policy checks are from an earlier poll. Cached from the last background poll.",
        "kafka",
    ),
    # --- alerts and notifications ---------------------------------------------------------
    MetricSpec(
        "cdc_alert_firing",
        G,
        (
            "alert",
            "severity",
            "connect_cluster",
            "connector",
            "task",
            "database",
            "source",
            "worker",
            "setting",
            "user",
            "privilege",
        ),
        "1 for every alert cdc_watch's own health rules consider firing (after its `for`); each sample carries only the labels its alert has (see docs/runbook.md). Pending alerts are not shown.",
        "alerts",
    ),
    MetricSpec(
        "cdc_alerts_pending", G, (), "Alerts whose condition holds but whose `for` has not elapsed yet.", "alerts"
    ),
    MetricSpec(
        "cdc_notifications_total",
        C,
        ("channel",),
        "Notifications delivered, by channel (slack, sentry; alertmanager: accepted POSTs).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_errors_total",
        C,
        ("channel",),
        "Failed notification delivery attempts (including retried ones and notifications dropped because the queue was full), by channel.",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_queue_length",
        G,
        ("channel",),
        "Notifications waiting for delivery, by channel (each channel has its own queue).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_alertmanager_alerts_sent_total",
        C,
        ("alertmanager",),
        "Alerts accepted by each configured Alertmanager (alertmanager: its position in alerting.alertmanager.urls, from 0).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_alertmanager_errors_total",
        C,
        ("alertmanager",),
        "Failed POSTs to each configured Alertmanager (retried ones and refused ones).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_alertmanager_dropped_total",
        C,
        ("alertmanager",),
        "Alerts dropped because the queue of that Alertmanager was full (10000 alerts).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_alertmanager_queue_length",
        G,
        ("alertmanager",),
        "Alerts waiting to be sent to each configured Alertmanager (each has its own queue and worker).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notification_queue_bytes",
        G,
        ("channel",),
        "Bytes of the notifications waiting for delivery, by channel (bounded by alerting.queue_max_bytes).",
        "alerts",
    ),
    MetricSpec(
        "cdc_notifications_dropped_total",
        C,
        ("channel", "kind"),
        "Notifications given up because their channel's queue was full (alerting.queue_size or queue_max_bytes), by channel and kind (log, notice, repeat, resolved, firing; dropped in that order, oldest first).",
        "alerts",
    ),
    MetricSpec(
        "cdc_sentry_log_events_suppressed_total",
        C,
        (),
        "The daemon's own warnings and errors not sent to Sentry because one with the same logger and message was sent in the last 10 minutes, or 30 log events were sent in that time.",
        "alerts",
    ),
    # --- High availability (cdc_watch/ha, docs/ha.md) -------------------------------------
    MetricSpec(
        "cdc_ha_leader",
        G,
        (),
        "1 while this replica is the HA leader (the only one that notifies and remediates), else 0. Every replica exports it: sum() over the replicas is 1 in a healthy pair.",
        "ha",
    ),
    MetricSpec(
        "cdc_ha_leader_changes_total",
        C,
        (),
        "Times this replica became or stopped being the HA leader.",
        "ha",
    ),
    MetricSpec(
        "cdc_ha_role",
        G,
        ("role",),
        "1 for this replica's HA role, 0 for the others: leader; follower (in the group, another replica leads: ready to take over); joining (reaches the broker, not yet in the group); no_broker (no broker round trip within session_timeout minus step_down_margin: never acts); starting (holds the lease, reading the shared state).",
        "ha",
    ),
    MetricSpec(
        "cdc_ha_broker_last_contact_timestamp_seconds",
        G,
        (),
        "Time of this replica's last confirmed round trip to the HA broker; absent before the first.",
        "ha",
        "seconds",
    ),
    MetricSpec(
        "cdc_ha_state_publish_errors_total",
        C,
        (),
        "Shared state sections the HA leader could not write to the state topic (broker error, timeout, or larger than max_state_bytes).",
        "ha",
    ),
    # --- Remediation (safe auto-restart) -------------------------------------------------
    MetricSpec(
        "cdc_remediation_mode",
        G,
        ("mode",),
        "1 for the remediation mode in use, 0 for the others (off, dry_run, on).",
        "remediation",
    ),
    MetricSpec(
        "cdc_remediation_restarts_total",
        C,
        ("connect_cluster", "connector", "result"),
        "Restart decisions carried out, by result: restarted, would_restart (dry run), conflict (409 or rebalance; retried later, not counted as an attempt), not_found, error.",
        "remediation",
    ),
    MetricSpec(
        "cdc_remediation_suppressed_total",
        C,
        ("connect_cluster", "connector", "reason"),
        "Restarts held back, counted once per change of reason: non_retriable, unknown_failure, binlog_lost, excluded, operator_managed, backoff, max_restarts, rate_limit.",
        "remediation",
    ),
    MetricSpec(
        "cdc_remediation_attempts",
        G,
        CONNECTOR,
        "Restarts in the connector's current failure streak (reset after it stayed healthy for reset_after); persisted across cdc_watch restarts.",
        "remediation",
    ),
    MetricSpec(
        "cdc_remediation_next_allowed_timestamp_seconds",
        G,
        CONNECTOR,
        "Earliest time the next automatic restart of the connector may happen (backoff); absent when none is pending.",
        "remediation",
        "seconds",
    ),
)

BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOGUE}


def spec(name: str) -> MetricSpec:
    return BY_NAME[name]


def render_markdown() -> str:
    lines = [
        "# Metrics catalogue",
        "",
        "Generated from `cdc_watch/exporter/catalogue.py` by `python -m generate`; do not edit by hand",
        "(a test fails when this page and the catalogue differ).",
        "",
        "Every metric starts with `cdc_`. States are one-hot gauges over a closed list. Values marked",
        "*cached* come from the last background poll of their source, not from the scrape itself;",
        "`cdc_source_last_success_timestamp_seconds` says how old that poll is.",
        "",
        "Series per task are the metrics with a `task` label: "
        + ", ".join(f"`{m.name}`" for m in CATALOGUE if "task" in m.labels and m.subsystem != "alerts")
        + ". `exporter.per_task_metrics: false` leaves them out and exports `cdc_connector_tasks_by_state` "
        "instead (docs/configuration.md#exporter). Metrics with a `connector` label and no `task` label "
        "are per connector; the others per cluster, worker, endpoint or database.",
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
        "canary": "Freshness canary",
        "kafka": "Kafka: schema history topics",
        "alerts": "Alerts and notifications",
        "remediation": "Remediation",
        "ha": "High availability (docs/ha.md: with two replicas, aggregate with max by or sum)",
    }
    for subsystem, metrics in subsystems.items():
        lines += [f"## {titles.get(subsystem, subsystem)}", "", "| name | type | labels | help |", "|---|---|---|---|"]
        for metric in metrics:
            labels = ", ".join(f"`{label}`" for label in metric.labels) or "—"
            lines.append(f"| `{metric.name}` | {metric.type} | {labels} | {metric.help} |")
        lines.append("")
    lines += [
        "## Outside the catalogue: the process and the Python runtime",
        "",
        "After the families above, `/metrics` carries prometheus_client's standard collectors for the",
        "daemon itself, with their own names and help: `process_*` (CPU seconds, resident and virtual",
        "memory, open and max file descriptors, start time), `python_gc_*` (collections, collected and",
        "uncollectable objects per generation) and `python_info`. Like the rest of the body they are as",
        "of the last render (after each poll, at most 30 s old).",
        "",
    ]
    return "\n".join(lines)
